"""The trainer (SFT with LoRA or full fine-tuning on Lightning).

``VERSION``: bump it when a change here can change a trained model (pinned in tests/fixtures/version_pins.json,
pada/versions.py); every ``train_<i>`` stage's key carries it, so cached training re-runs after a bump.
"""

# 1.1: examples cut to no response token are dropped or an error (issue 29)
# 1.2: the loss applies the LM head only where a response token is predicted (module.response_loss): the same
# loss up to float rounding, ~20% less training compute
VERSION = "1.2"
