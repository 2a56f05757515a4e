"""run.shared_stages: a training or evaluation whose output is determined by the same inputs is computed once
and reused by every other cell (pada/run/shared.py); identity follows what determines the output."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import compose_config
from sim_support import sim_overrides

from pada.io import read_json, read_jsonl, sha256_file
from pada.run.runner import Cell, run_cell
from pada.run.shared import SharedStore
from pada.run.stages import DONE

# The simulated world at a few seconds per cell: round 0 of SFT and AugGPT is one training on the seed set.
SIM = sim_overrides(val=16)


def _sim(tmp_path: Path, cache: Path, *extra: str, runs: str = "runs") -> list[str]:
    """A sim cell sharing stages under ``cache`` (conftest turns the default off for the other tests)."""
    paths = [f"paths.runs_dir={tmp_path / runs}", f"paths.cache_dir={cache}"]
    shared = (
        [] if any(e.startswith("run.shared_stages=") for e in extra) else [f"run.shared_stages={cache}/s"]
    )
    return [*SIM, *paths, *shared, *extra]


TIMED = ("train_summary.json", "loss_curve.jsonl")  # hold seconds and tokens/s besides the numbers


def _files(run_dir: Path, stage: str) -> dict[str, Any]:
    """sha256 per file of a stage dir; of the timed files, the losses per batch."""
    folder = run_dir / stage
    found = {
        str(p.relative_to(folder)): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in (DONE, *TIMED)
    }
    if (folder / "loss_curve.jsonl").is_file():
        found["losses"] = [row["loss"] for row in read_jsonl(folder / "loss_curve.jsonl")]
    return found


def _run_dir(tmp_path: Path, results: dict, runs: str = "runs") -> Path:
    return tmp_path / runs / results["cell"]["name"]


@pytest.mark.slow
def test_round_zero_is_trained_once_per_seed_and_byte_identical_to_an_unshared_run(tmp_path, own_cache):
    sft = run_cell(compose_config(_sim(tmp_path, own_cache, "method=sft", "teacher=none")))
    auggpt = run_cell(compose_config(_sim(tmp_path, own_cache, "method=auggpt")))
    computed, reused = sft["shared_stages"], auggpt["shared_stages"]
    assert [(u["unit"], u["reused"]) for u in computed["train_0"]] == [("train", False)]
    assert [(u["unit"], u["reused"]) for u in reused["train_0"]] == [("train", True)]
    assert reused["train_0"][0]["key"] == computed["train_0"][0]["key"]
    assert reused["train_0"][0]["computed_by"] == sft["cell"]["name"]
    assert [(u["unit"], u["reused"]) for u in reused["eval_0"]] == [("eval:val", True)]
    assert reused["eval_0"][0]["key"] == computed["eval_0"][0]["key"]
    assert [u["reused"] for u in reused["train_1"]] == [False]  # its own data: computed
    sft_row = {k: v for k, v in sft["iterations"][0].items() if k != "selected"}  # sft tests round 0
    assert auggpt["iterations"][0] == sft_row  # the same training summary and validation accuracy
    # The same cell without sharing (its own runs and cache dir): the same bytes, trained and scored anew.
    alone = run_cell(
        compose_config(_sim(tmp_path, own_cache, "method=auggpt", "run.shared_stages=null", runs="alone"))
    )
    assert alone["shared_stages"] == {}
    shared_dir, alone_dir = _run_dir(tmp_path, auggpt), _run_dir(tmp_path, alone, "alone")
    for stage in ("train_0", "eval_0", "train_1", "eval_1", "test"):
        assert _files(shared_dir, stage) == _files(alone_dir, stage), stage
    assert {"model/model.safetensors", "losses"} <= set(_files(shared_dir, "train_0"))
    assert alone["metrics"] == auggpt["metrics"]


def _unit_keys(cfg_overrides: list[str]) -> tuple[str, str]:
    """(round 0's training key, its validation evaluation's key) of a cell, computed without running it."""
    cell = Cell(compose_config(cfg_overrides))
    seed = cell.splits.pool[: cell.cfg.budget]
    extra = cell.splits.val if cell.method.trains_on_validation else []
    train = SharedStore.key("train", cell._train_unit_inputs(0, [*seed, *extra], None))
    cell._units["t"] = train
    return train, SharedStore.key("eval", cell._eval_unit_inputs(cell.splits.val, None, "t"))


def test_a_unit_key_follows_what_determines_the_output_not_the_method_name(tmp_path, model_cache):
    sft = _unit_keys(_sim(tmp_path, model_cache, "method=sft", "teacher=none"))
    # Methods that differ only in what acts on augment stages (method, teacher) share round 0.
    assert _unit_keys(_sim(tmp_path, model_cache, "method=pada", "method.loop.iterations=1")) == sft
    assert _unit_keys(_sim(tmp_path, model_cache, "method=llm2llm", "decontamination.ngram=5")) == sft
    # sft_val trains on seed + validation: another training, so another evaluation too.
    sft_val = _unit_keys(_sim(tmp_path, model_cache, "method=sft_val", "teacher=none"))
    assert sft_val[0] != sft[0] and sft_val[1] != sft[1]
    # A trainer setting, another seed, a step count raised by another synthetic budget: not shared.
    for extra in ("trainer.lr=0.002", "seed=1", "synthetic_budget=64", "chat_template_date=2025-01-01"):
        other = _unit_keys(_sim(tmp_path, model_cache, "method=sft", "teacher=none", extra))
        assert other[0] != sft[0] and other[1] != sft[1], extra
    # An evaluation setting changes the evaluation's key only.
    longer = _unit_keys(_sim(tmp_path, model_cache, "method=sft", "teacher=none", "eval.max_new_tokens=9"))
    assert longer[0] == sft[0] and longer[1] != sft[1]


def test_a_method_that_evaluates_at_another_length_gets_another_evaluation_key(tmp_path, model_cache):
    cell = Cell(compose_config(_sim(tmp_path, model_cache, "method=llm2llm")))
    cell._units["t"] = "trained"
    default = SharedStore.key("eval", cell._eval_unit_inputs(cell.splits.val, None, "t"))
    explicit = SharedStore.key("eval", cell._eval_unit_inputs(cell.splits.val, 24, "t"))  # sim's own length
    assert default == explicit  # the length actually generated, however it was asked for
    assert SharedStore.key("eval", cell._eval_unit_inputs(cell.splits.val, 7, "t")) != default
    assert SharedStore.key("eval", cell._eval_unit_inputs(cell.splits.val[1:], None, "t")) != default


def _write(count: Path, text: str = "out"):
    def work(folder: Path) -> dict:
        with count.open("a") as handle:
            handle.write("x")
        (folder / "out.txt").write_text(text)
        return {"n": 1}

    return work


def test_a_corrupted_partial_or_edited_entry_is_computed_again(tmp_path, caplog):
    store, count = SharedStore(tmp_path / "store", "cell-a"), tmp_path / "count"
    first = store.unit("eval", {"x": 1}, _write(count))
    assert (first.reused, count.read_text()) == (False, "x")
    assert store.unit("eval", {"x": 1}, _write(count)).reused and count.read_text() == "x"
    (first.path / "out.txt").write_text("tampered")  # same size, other bytes
    again = store.unit("eval", {"x": 1}, _write(count))
    assert (again.reused, count.read_text(), (again.path / "out.txt").read_text()) == (False, "xx", "out")
    assert "not intact" in caplog.text
    (again.path / DONE).write_text("{cut")  # a damaged marker: recomputed, not an error
    assert not store.unit("eval", {"x": 1}, _write(count)).reused and count.read_text() == "xxx"

    def crash(folder: Path) -> dict:
        (folder / "half.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.unit("eval", {"x": 2}, crash)
    key = SharedStore.key("eval", {"x": 2})
    assert not (tmp_path / "store" / "eval" / key).exists()  # nothing marked done
    assert list((tmp_path / "store" / "eval").glob(f".{key}.partial-*"))  # what it wrote, for debugging
    done = store.unit("eval", {"x": 2}, _write(count))
    assert not done.reused and not list((tmp_path / "store" / "eval").glob(f".{key}.partial-*"))
    assert read_json(done.path / DONE)["computed_by"] == "cell-a"


def _compute_in_another_process(root: str, count: str, name: str) -> None:
    def slow(folder: Path) -> dict:
        time.sleep(1.0)
        return _write(Path(count))(folder)

    unit = SharedStore(Path(root), name).unit("train", {"same": True}, slow)
    Path(count).with_suffix(f".{name}").write_text(json.dumps(unit.reused))


def test_two_cells_at_once_wait_for_one_computation(tmp_path):
    context = multiprocessing.get_context("spawn")
    args = [(str(tmp_path / "store"), str(tmp_path / "count"), name) for name in ("a", "b")]
    processes = [context.Process(target=_compute_in_another_process, args=a) for a in args]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0]
    assert (tmp_path / "count").read_text() == "x"  # computed once
    reused = sorted(json.loads((tmp_path / f"count.{n}").read_text()) for n in ("a", "b"))
    assert reused == [False, True]
