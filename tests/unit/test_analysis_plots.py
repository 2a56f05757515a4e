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
