"""A tiny-model training run stays under 1 GB peak RSS (measured in a fresh process: imports included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import json, sys, tempfile, time
from pathlib import Path
sys.path[:0] = [{root!r}, {tests!r}]
from training_support import arithmetic, tiny_model_dir, trainer_cfg
from pada.training.train import fit
cfg = trainer_cfg("lora", max_steps=20, batch_size=8, max_seq_len=1024, batching="length_grouped")
started = time.perf_counter()
summary = fit(cfg, tiny_model_dir(), arithmetic(64), Path(tempfile.mkdtemp()), seed=0)
# VmHWM is this process image's own peak: ru_maxrss would also count the parent's RSS carried across exec
hwm_kb = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
print(json.dumps({{"rss_mb": hwm_kb / 1024,
                  "steps_per_s": 20 / summary["train_seconds"]}}))
"""


def test_tiny_lora_run_stays_under_one_gigabyte(tmp_path):
    code = SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    print("tiny LoRA run:", measured)
    assert 100 < measured["rss_mb"] < 1024
