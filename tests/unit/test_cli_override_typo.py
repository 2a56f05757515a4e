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


# ---------------------------------------------------------------- a user method's own keys (issue 29.12)
RANDOM_DELETE = """
from pada.api import Method


class RandomDelete(Method):
    version = "1.0"
    augments = True

    def propose(self, state):
        share = self.cfg.p_delete  # the method's own key
        return []
"""


def _user_method(tmp_path, monkeypatch, key: str = "p_delete") -> str:
    (tmp_path / "random_delete.py").write_text(RANDOM_DELETE)
    (tmp_path / "my_conf" / "method").mkdir(parents=True)
    (tmp_path / "my_conf" / "method" / "random_delete.yaml").write_text(
        f"_target_: random_delete.RandomDelete\nname: random_delete\n{key}: 0.1\nloop:\n  iterations: 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"hydra.searchpath=[file://{tmp_path / 'my_conf'}]"


@pytest.mark.parametrize("command", ["run", "preflight"])
def test_a_typo_in_a_user_methods_own_key_suggests_that_key(command, tmp_path, monkeypatch, capsys):
    """``method.p_delet=0.3``: the method's own ``p_delete``, not ``method.loop.select``."""
    searchpath = _user_method(tmp_path, monkeypatch)
    args = [command, "method=random_delete", searchpath, "method.p_delet=0.3"]
    if command == "run":
        args.append(f"paths.runs_dir={tmp_path / 'runs'}")
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("did you mean 'method.p_delete'?"), err


def test_a_typo_in_a_user_methods_yaml_suggests_the_key_its_code_reads(tmp_path, monkeypatch, capsys):
    searchpath = _user_method(tmp_path, monkeypatch, key="p_delet")
    args = ["run", "method=random_delete", searchpath, f"paths.runs_dir={tmp_path / 'runs'}"]
    try:
        code = main(args)
    except SystemExit as exit_:  # raised from inside the Hydra app
        code = exit_.code
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "pada: error: config key 'method.p_delet' is read by no code (a typo?); did you mean 'method.p_delete'?"
    )


def test_the_did_you_mean_knows_method_loops_keys():
    from pada.config_keys import LOOP_KEYS
    from pada.run.loop import LOOP_KEYS as RUNNER_LOOP_KEYS

    assert LOOP_KEYS == RUNNER_LOOP_KEYS  # config_keys sits below pada.run: a copy, kept equal here
