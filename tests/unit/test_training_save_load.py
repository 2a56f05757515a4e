"""Saved adapters and full models reload to identical logits; continuing from a previous iteration works."""

from __future__ import annotations

import pytest
import torch
from peft import PeftModel
from training_support import arithmetic, logits, tiny_model_dir, trainer_cfg

from pada.errors import PadaError
from pada.io import read_jsonl
from pada.models.loading import load_causal_lm, load_tokenizer
from pada.training.data import PlannedBatches, build_feature
from pada.training.module import model_inputs
from pada.training.train import build_model, build_plan, fit

PROBE = [1, 3, 40, 41, 42, 4, 60, 61]  # arbitrary in-vocabulary ids


def _trained_model(tmp_path, mode: str, capture: dict):
    """fit(), keeping a handle on the in-memory trained model to compare against the saved one."""
    import pada.training.train as train

    original = train.SFTModule

    class Capturing(original):
        def on_train_end(self):
            capture["model"] = self.model

    train.SFTModule = Capturing
    try:
        return fit(
            trainer_cfg(mode, lr=1e-2 if mode == "lora" else 1e-3),
            tiny_model_dir(),
            arithmetic(),
            tmp_path,
            seed=0,
        )
    finally:
        train.SFTModule = original


def test_lora_adapter_reloads_to_identical_logits(tmp_path):
    capture: dict = {}
    _trained_model(tmp_path, "lora", capture)
    saved = tmp_path / "model"
    assert (saved / "adapter_model.safetensors").is_file() and not (saved / "model.safetensors").exists()
    reloaded = PeftModel.from_pretrained(load_causal_lm(tiny_model_dir()), saved)
    trained = logits(capture["model"], PROBE)
    assert torch.equal(logits(reloaded, PROBE), trained)
    assert not torch.equal(logits(load_causal_lm(tiny_model_dir()), PROBE), trained)  # training changed it


def test_full_model_reloads_to_identical_logits(tmp_path):
    capture: dict = {}
    _trained_model(tmp_path, "full", capture)
    saved = tmp_path / "model"
    reloaded = load_causal_lm(str(saved))
    assert torch.equal(logits(reloaded, PROBE), logits(capture["model"], PROBE))
    assert load_tokenizer(str(saved)).chat_template == load_tokenizer(tiny_model_dir()).chat_template


def _first_batch_loss(model, cfg, seed: int) -> float:
    """The loss of the first batch fit() trains on (same plan, same collation), in eval mode."""
    tokenizer = load_tokenizer(tiny_model_dir())
    features = [build_feature(tokenizer, ex, cfg.max_seq_len) for ex in arithmetic()]
    plan = build_plan(cfg, [len(f.input_ids) for f in features], seed)
    batch = PlannedBatches(features, tokenizer.pad_token_id, packed=False)[plan.batches(0)[0]]
    model.eval()
    with torch.no_grad():
        return float(model(**model_inputs(batch)).loss)


def test_continuing_from_previous_starts_where_it_stopped(tmp_path):
    """init_from=previous (LoRA and full): the next fit starts from the saved weights, not from the base."""
    for mode in ("lora", "full"):
        lr = 1e-2 if mode == "lora" else 1e-3
        # no dropout, so the first logged loss is exactly the previous model's loss on that batch
        cfg = trainer_cfg(mode, lr=lr, init_from="previous", lora={"dropout": 0.0})
        fit(cfg, tiny_model_dir(), arithmetic(), tmp_path / mode / "it0", seed=0)
        previous = str(tmp_path / mode / "it0" / "model")
        model = build_model(cfg, tiny_model_dir(), previous)
        if mode == "lora":
            assert all(p.requires_grad == ("lora_" in n) for n, p in model.named_parameters())
        else:
            assert all(p.requires_grad for p in model.parameters())
        expected = _first_batch_loss(model, cfg, seed=0)
        base = _first_batch_loss(build_model(cfg, tiny_model_dir(), None), cfg, seed=0)
        fit(cfg, tiny_model_dir(), arithmetic(), tmp_path / mode / "it1", seed=0, init_from=previous)
        continued = list(read_jsonl(tmp_path / mode / "it1" / "loss_curve.jsonl"))
        assert continued[0]["loss"] == pytest.approx(expected, abs=1e-5)
        assert expected < base - 1e-2


@pytest.mark.parametrize(("key", "value"), [("mode", "qlora"), ("batching", "sorted"), ("init_from", "prev")])
def test_mistyped_choice_is_one_clear_error(tmp_path, key, value):
    with pytest.raises(PadaError, match=f"trainer.{key}='{value}' is not one of"):
        fit(trainer_cfg("lora", **{key: value}), tiny_model_dir(), arithmetic(4), tmp_path, seed=0)
    assert not any(tmp_path.iterdir())  # nothing half-written
