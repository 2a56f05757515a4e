"""Training step time of the real SmolLM2-135M-Instruct student (LoRA, CPU, one thread) on real ARC-Challenge
seed examples: the loss over every position's logits (``model(**batch).loss``) vs the loss with the LM head
applied only where a response token is predicted (pada.training.module.response_loss, trainer 1.2).

    python experiments/bench/train_loss.py --data-dir DIR [--cache-dir .cache/pada] [--steps 6] [--repeats 3]

Forward + backward of the same ``--steps`` batches of 4 (demo-real's batch size) per timing, the two losses
interleaved A B A B (common.time_pair) so a load spike hits both; also the two losses' largest difference.
Needs ``make smollm2`` (the float32 conversion under CACHE_DIR/models) and the ARC files. Writes
``train_loss.json`` + ``.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import ROOT, load_average, machine, time_pair, write_report  # noqa: E402

sys.path.insert(0, str(ROOT))
from pada.models.loading import load_tokenizer  # noqa: E402
from pada.tasks.base import build_task  # noqa: E402
from pada.training.data import build_feature, collate  # noqa: E402
from pada.training.module import model_inputs, response_loss  # noqa: E402
from pada.training.train import build_model  # noqa: E402

BATCH = 4  # demo-real's trainer.batch_size


def batches(data_dir: Path, model_dir: str, steps: int) -> list[dict]:
    task = build_task(OmegaConf.load(ROOT / "conf" / "task" / "arc_challenge.yaml"))
    examples = task.load(data_dir).pool[: steps * BATCH]
    tokenizer = load_tokenizer(model_dir)
    features = [build_feature(tokenizer, ex, None, None) for ex in examples]
    return [collate(features[i : i + BATCH], tokenizer.pad_token_id) for i in range(0, len(features), BATCH)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "pada")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)  # demo-real's cells train on one thread each
    model_dir = str(args.cache_dir / "models" / "smollm2_135m_instruct")
    cfg = OmegaConf.load(ROOT / "conf" / "trainer" / "lora.yaml")
    model = build_model(cfg, model_dir, None).train()
    data = batches(args.data_dir, model_dir, args.steps)

    def full() -> list[float]:
        return [_step(model, lambda b: model(**model_inputs(b)).loss, b) for b in data]

    def kept() -> list[float]:
        return [_step(model, lambda b: response_loss(model, b), b) for b in data]

    gap = max(abs(a - b) for a, b in zip(full(), kept(), strict=True))
    timed_full, timed_kept = time_pair(full, kept, repeats=args.repeats)
    ratio = timed_kept.median_s / timed_full.median_s
    result = {
        "batches": len(data),
        "tokens": sum(int(b["attention_mask"].sum()) for b in data),
        "response_tokens": sum(int((b["labels"] != -100).sum()) for b in data),
        "full_logits_s": timed_full.to_dict(),
        "response_positions_only_s": timed_kept.to_dict(),
        "ratio_response_positions_over_full": round(ratio, 3),
        "largest_loss_difference": gap,
        "load_average_after": load_average(),
    }
    report = {
        "title": "Training loss: full logits vs response positions only (real SmolLM2-135M, ARC, LoRA, 1 thread)",
        "note": "Forward + backward of the same batches, interleaved A B A B; ratio < 1: trainer 1.2 is faster.",
        "machine": machine(),
        "results": {"train_loss": result},
    }
    write_report(args.out, "train_loss", report)
    print(f"response positions / full logits: {ratio:.3f} (loss difference {gap:.1e}), {result}")


def _step(model, loss_of, batch: dict) -> float:
    loss = loss_of(batch)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return float(loss)


if __name__ == "__main__":
    main()
