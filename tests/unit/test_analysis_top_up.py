"""Table 2 shows the runner's budget_match top-ups (results.json ``data.top_up``, fairness 1.8): per method
how many runs needed them and what they added, and beside the shortfall flag why a run still ended short;
runs older than the record read "not recorded", never 0."""

import sys
from pathlib import Path

import numpy as np
import pytest

from analysis import render, tables
from analysis.collect import collect_runs
from pada.io import read_json, write_json
from pada.run.fairness import data_accounting
from pada.run.topup import NO_MORE, ROUNDS_USED, TARGET_REACHED, Filled
from pada.types import Quota

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from analysis_tree import make_tree  # noqa: E402

QUOTA, TARGET = 256, 128  # the cell's synthetic quota; each of its two augment rounds' target
SYNTHETIC = "Synthetic / quota"
TRAINING = {"optimizer_steps": {"per_iteration": [8, 8, 8], "total": 24, "tested": 8}}  # as every run records


def _round(kept: list[int], stopped: str) -> dict:
    """One augment round's ``top_up`` as the runner records it (pada.run.topup.Filled.record): ``kept``
    per round, 0 = ``propose``, then each top-up."""
    rounds = [
        {"round": r, "asked": None, "proposed": k, "kept": k, "rejected": {}} for r, k in enumerate(kept)
    ]
    return Filled(Quota(limit=TARGET, target=TARGET), 3, rounds=rounds, stopped=stopped).record()


# (method, seed) -> each augment round's kept examples per top-up round and why its top-ups stopped
TOP_UPS = {
    ("auggpt", 0): [([120, 8], TARGET_REACHED), ([128], TARGET_REACHED)],  # 1 top-up, 8 added
    ("auggpt", 1): [([110, 5, 4, 3], ROUNDS_USED), ([126, 2], TARGET_REACHED)],  # 4 top-ups, 14 added, short
    ("auggpt", 2): [([128], TARGET_REACHED), ([128], TARGET_REACHED)],
    ("pada", 0): [([128], TARGET_REACHED), ([128], TARGET_REACHED)],
    ("pada", 1): [([128], TARGET_REACHED), ([127], NO_MORE)],  # asked, nothing more: short by 1
    ("pada", 2): [([128], TARGET_REACHED), ([128], TARGET_REACHED)],
}


def _augmented(path: Path, top_up: list | None, synthetic: int) -> None:
    """A cell with two augment rounds; ``top_up`` None: a run older than fairness 1.8 (no record)."""
    results = read_json(path)
    results["timings"] = {f"augment_{i}": {"seconds": 1.0, "cached": False} for i in range(2)}
    results["data"].update(synthetic=synthetic, synthetic_quota=QUOTA)
    results["training"] = TRAINING
    if top_up is not None:
        infos = [{"new_examples": 0, "top_up": _round(kept, stopped)} for kept, stopped in top_up]
        results["data"]["top_up"] = data_accounting(infos)["top_up"]
    write_json(path, results)  # JSON: the rounds' keys become "0", "1" as in a real results.json


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = make_tree(tmp_path_factory.mktemp("runs"), methods=("sft", "auggpt", "llm2llm", "pada"))
    for path in sorted(root.glob("*/results.json")):
        cell = read_json(path)["cell"]
        method, seed = cell["method"], cell["seed"]
        if method == "sft":
            results = read_json(path)
            results["data"].update(top_up={}, synthetic_quota=QUOTA)  # as a real SFT cell records them
            results["training"] = TRAINING  # a real SFT cell trains: it has synthetic (0) rows
            write_json(path, results)
        elif method == "llm2llm":  # recorded before fairness 1.8: no data.top_up, seed 0 short
            _augmented(path, None, 250 if seed == 0 else QUOTA)
        else:
            rounds = TOP_UPS[(method, seed)]
            _augmented(path, rounds, sum(sum(kept) for kept, _ in rounds))
    return root


@pytest.fixture(scope="module")
def table2(runs):
    return tables.table2(collect_runs(runs), np.random.default_rng(0), 200)


def _notes(table, method: str) -> list[str]:
    return [table.notes[n] for n in table.cells[(method, SYNTHETIC)].notes]


def test_cells_record_top_ups_needed_used_added_and_why_they_stopped(runs):
    cells = collect_runs(runs).cells
    rows = cells[cells["metric"].str.startswith("top_up/")]
    auggpt_s1 = rows[(rows["method"] == "auggpt") & (rows["seed"] == 1) & (rows["task"] == "gsm8k")]
    got = dict(
        zip(auggpt_s1["metric"] + "@" + auggpt_s1["budget"].astype(str), auggpt_s1["value"], strict=True)
    )
    assert {k: v for k, v in got.items() if k.endswith("@64")} == {
        "top_up/rounds@64": 2.0,  # augment rounds with a budget_match target
        "top_up/needed@64": 2.0,  # of them short after propose
        "top_up/used@64": 4.0,
        "top_up/added@64": 14.0,
        f"top_up/stopped/{ROUNDS_USED}@64": 1.0,
        f"top_up/stopped/{TARGET_REACHED}@64": 1.0,
    }
    assert rows[rows["method"].isin(["llm2llm", "sft"])].empty  # not recorded / nothing augmented: no row


def test_table2_notes_how_many_runs_needed_top_ups_and_what_they_added(table2):
    (note,) = [n for n in _notes(table2, "auggpt") if "top-up" in n and "short of" not in n]
    assert note == (
        "AugGPT: budget_match top-ups in 6 of 9 runs (9 augment rounds short after propose; 15 top-ups "
        "added 66 examples; per round: results.json data.top_up)"
    )
    (pada,) = [n for n in _notes(table2, "pada") if "short of" not in n]
    assert pada.startswith(
        "PaDA-Agent: budget_match top-ups in 3 of 9 runs (3 augment rounds short after propose; 0 top-ups added 0 examples"
    )


def test_the_shortfall_flag_says_why_the_top_ups_stopped(table2):
    (short,) = [n for n in _notes(table2, "auggpt") if "short of the synthetic quota" in n]
    assert short.endswith(f"; top-ups stopped: {ROUNDS_USED} (3 runs)")
    (pada,) = [n for n in _notes(table2, "pada") if "short of the synthetic quota" in n]
    assert pada.endswith(f"; top-ups stopped: {NO_MORE} (3 runs)")


def test_runs_older_than_the_record_say_not_recorded_never_zero(table2):
    notes = _notes(table2, "llm2llm")
    short = [n for n in notes if "short of the synthetic quota" in n]
    assert len(short) == 1 and short[0].endswith("; top-ups: not recorded (3 runs)")
    (top_up,) = [n for n in notes if "short of" not in n]
    assert (
        top_up
        == "LLM2LLM: budget_match top-ups not recorded by these runs (results.json before fairness 1.8)"
    )
    assert not _notes(table2, "sft")  # no augment stage: no top-up note
    assert "not recorded" in render.to_markdown(table2)


def test_runs_without_a_budget_match_target_get_no_top_up_note(tmp_path):
    root = make_tree(tmp_path, methods=("sft", "auggpt"))
    for path in sorted(root.glob("*auggpt*/results.json")):
        results = read_json(path)
        results["timings"] = {"augment_0": {"seconds": 1.0, "cached": False}}
        results["data"].update(synthetic=250, synthetic_quota=QUOTA, top_up={})  # a limit, no target
        results["training"] = TRAINING
        write_json(path, results)
    table = tables.table2(collect_runs(root), np.random.default_rng(0), 200)
    (short,) = _notes(table, "auggpt")
    assert short.endswith("; top-ups: none, no budget_match target (9 runs)")
