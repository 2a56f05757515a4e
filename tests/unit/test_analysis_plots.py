"""Plots read as a reader expects: whole-number iteration ticks, the budgets run as the budget ticks."""

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from analysis import plots
from analysis.collect import collect_runs

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from analysis_tree import make_tree  # noqa: E402


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    return collect_runs(make_tree(tmp_path_factory.mktemp("runs"), methods=("sft", "llm2llm", "pada")))


def _x_ticks(monkeypatch, plot, collected, tmp_path) -> dict[str, list[str]]:
    ticks = {}

    def save(fig, out, stem):
        fig.canvas.draw()
        ax = fig.axes[0]
        ticks[stem] = [
            t.get_text()
            for t in ax.get_xticklabels()
            if ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1]
        ]
        plt.close(fig)
        return [stem]

    monkeypatch.setattr(plots, "_save", save)
    plot(collected, tmp_path)
    return ticks


def test_iteration_ticks_are_whole_numbers(monkeypatch, collected, tmp_path):
    ticks = _x_ticks(monkeypatch, plots.iteration_curves, collected, tmp_path)
    assert ticks and all(labels == ["0", "1", "2"] for labels in ticks.values()), ticks


def test_budget_ticks_are_the_budgets_run(monkeypatch, collected, tmp_path):
    ticks = _x_ticks(monkeypatch, plots.accuracy_vs_budget, collected, tmp_path)
    assert ticks == {"accuracy_vs_budget_arc_challenge": ["64"], "accuracy_vs_budget_gsm8k": ["64", "128"]}


def test_accuracy_axes_stay_within_0_to_100():
    fig, (flat, spread) = plt.subplots(1, 2)
    flat.plot([0, 1], [0.0, 0.0])  # every cell at 0 %: matplotlib would centre the axis on 0 (-0.05 .. 0.05)
    spread.errorbar([0, 1], [5.0, 97.0], yerr=[10.0, 10.0])
    for ax in (flat, spread):
        plots._percent_limits(ax)
    assert flat.get_ylim() == (0, 100)
    assert spread.get_ylim()[0] == 0 and spread.get_ylim()[1] == 100
    plt.close(fig)


def test_a_row_label_with_config_values_makes_a_safe_distinct_file(tmp_path):
    """Rows told apart by a differing config value (`pada analyze` labels them "PaDA-Agent
    [teacher.base_url=http://127.0…]") named their plot file after the label: the "/" made savefig fail
    after the tables were written (a restarted `make demo-real`, 2026-12-07)."""
    label = "patterns_arc_challenge_b16_pada [teacher.base_url=http://127.0…]"
    other = "patterns_arc_challenge_b16_pada [teacher.base_url=http://127.1…]"
    assert plots.file_stem("iterations_gsm8k_b64") == "iterations_gsm8k_b64"  # a plain stem is kept
    stem = plots.file_stem(label)
    assert stem.startswith("patterns_arc_challenge_b16_pada_teacher.base_url_http_127.0-") and "/" not in stem
    assert stem != plots.file_stem(other)
    fig, _ = plt.subplots()
    (png, *_) = plots._save(fig, tmp_path, label)
    assert png.parent == tmp_path and png.is_file()
