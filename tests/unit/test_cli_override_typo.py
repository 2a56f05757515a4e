"""A command-line override of a key the config lacks (``method.iteratons=3``, no ``+``) is one ``pada: error:``
line with a did-you-mean, not Hydra's advice to append the misspelt key with ``+``; a real optional key
(``embedder``, read with ``oc.select``) keeps the advice to add it with ``+``."""

from __future__ import annotations

import pytest

from pada.cli import main


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("method.iteratons=3", "did you mean 'method.loop.iterations'?"),
        ("teacher.fixtur=x.json", "did you mean 'teacher.fixture'?"),
        ("trainer.max_step=4", "did you mean 'trainer.max_steps'?"),
    ],
)
def test_a_misspelt_override_is_one_line_with_a_did_you_mean(override, expected, tmp_path, capsys):
    args = ["run", "method=auggpt", "teacher=scripted", f"paths.runs_dir={tmp_path}", override]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    key = override.partition("=")[0]
    assert len(err) == 1 and err[0].startswith(f"pada: error: config key '{key}' is not in the config"), err
    assert expected in err[0] and f"+{key}" not in err[0]  # never the advice to add the typo
    assert not list(tmp_path.iterdir())  # nothing ran


def test_an_optional_key_the_config_lacks_is_added_with_plus(tmp_path, capsys):
    assert (
        main(["run", "method=pada", f"paths.runs_dir={tmp_path}", "embedder=bundled:all-MiniLM-L6-v2"]) == 2
    )
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "'embedder'" in line and "+embedder=bundled:all-MiniLM-L6-v2" in line


def test_preflight_says_the_same(tmp_path, capsys):
    assert main(["preflight", "method=auggpt", "teacher=scripted", "method.iteratons=3"]) == 2
    err = capsys.readouterr().err
    assert (
        "config key 'method.iteratons' is not in the config (a typo?); did you mean 'method.loop.iterations'?"
        in err
    )
