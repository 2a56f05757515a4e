"""The trainer (SFT with LoRA or full fine-tuning on Lightning).

``VERSION``: bump it when a change here can change a trained model (pinned in tests/fixtures/version_pins.json,
pada/versions.py); every ``train_<i>`` stage's key carries it, so cached training re-runs after a bump.
"""

VERSION = "1.1"  # 1.1: examples cut to no response token are dropped or an error (issue 29)
