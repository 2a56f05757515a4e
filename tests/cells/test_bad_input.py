"""Bad input, table-driven: each case is exactly one stderr line ``pada: error: ...``, exit status 2, no new
``.done.json``, and every finished cell's files untouched. Add a row for each new kind of bad input."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import write_tiny_gsm8k

from pada.cli import main
from pada.run.stages import DONE


def _run(capsys, args: list[str]) -> tuple[int, list[str]]:
    try:
        code = main(["run", *args])
    except SystemExit as exit_:  # raised from inside the Hydra app
        code = exit_.code
    return code, capsys.readouterr().err.strip().splitlines()


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _assert_contract(code: int, err: list[str], runs: Path, before: dict[str, bytes], message: str) -> None:
    assert code == 2 and len(err) == 1 and err[0].startswith("pada: error: "), (code, err)
    assert message in err[0], err[0]
    after = _snapshot(runs) if runs.exists() else {}
    new_done = [p for p in after if p.endswith(DONE) and p not in before]
    assert new_done == [], new_done
    assert {p: after.get(p) for p in before} == before  # finished cells untouched


# ---------------------------------------------------------------- data files
def _gsm8k(mutate: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        write_tiny_gsm8k(root / "data" / "gsm8k")
        mutate(root / "data" / "gsm8k" / "train.jsonl")
        return [f"paths.data_dir={root / 'data'}"]

    return setup


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-40])


def _non_utf8(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b"apples", b"appl\xe9s", 1)
    path.write_bytes(b"".join(lines))


def _other_keys(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text(
        "".join(json.dumps({"problem": r["question"], "solution": r["answer"]}) + "\n" for r in rows)
    )


def _json_array(path: Path) -> None:
    path.write_text(json.dumps([json.loads(line) for line in path.read_text().splitlines()], indent=1))


def _json_array_one_line(path: Path) -> None:
    path.write_text(json.dumps([json.loads(line) for line in path.read_text().splitlines()]) + "\n")


def _no_answer_line(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    row = json.loads(lines[5])
    lines[5] = json.dumps({**row, "answer": row["answer"].split("####")[0]}) + "\n"
    path.write_text("".join(lines))


def _arc(drop: str) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        folder = root / "data" / "arc"
        folder.mkdir(parents=True)
        for part in ("Train", "Dev", "Test"):
            rows = [
                {
                    "id": f"{part}{i}",
                    "answerKey": "A",
                    "question": {
                        "stem": f"Q{i}?",
                        "choices": [{"text": "x", "label": "A"}, {"text": "y", "label": "B"}],
                    },
                }
                for i in range(20)
            ]
            if part == "Train":
                del rows[2]["question"][drop]
            (folder / f"ARC-Challenge-{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return [f"paths.data_dir={root / 'data'}", "task=arc_challenge", "budget=4"]

    return setup


def _mbpp(field: str, value) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        folder = root / "data" / "mbpp"
        folder.mkdir(parents=True)
        rows = [
            {
                "task_id": i,
                "text": f"Add {i}.",
                "code": f"def f(x):\n    return x + {i}",
                "test_list": [f"assert f(0) == {i}"],
                "test_setup_code": "",
            }
            for i in range(1, 975)
        ]
        rows[700][field] = value
        (folder / "mbpp.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return [
            f"paths.data_dir={root / 'data'}",
            "task=mbpp",
            "task.confirm_run_unsafe_code=true",
            "budget=4",
        ]

    return setup


def _mmlu(bad: bytes) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        for split in ("dev", "val", "test"):
            folder = root / "data" / "mmlu" / split
            folder.mkdir(parents=True)
            rows = b"".join(b"Q%d?,a,b,c,d,A\n" % i for i in range(8))
            (folder / f"anatomy_{split}.csv").write_bytes(rows + (bad if split == "val" else b""))
        return [f"paths.data_dir={root / 'data'}", "task=mmlu"]

    return setup


def _humaneval_gz(root: Path) -> list[str]:
    import gzip

    folder = root / "data" / "humaneval"
    folder.mkdir(parents=True)
    row = {
        "task_id": "HumanEval/0",
        "prompt": "def f(x):\n",
        "canonical_solution": "    return x\n",
        "test": "def check(c):\n    assert c(1) == 1\n",
        "entry_point": "f",
    }
    data = gzip.compress(
        ("".join(json.dumps({**row, "task_id": f"HumanEval/{i}"}) + "\n" for i in range(50))).encode()
    )
    (folder / "HumanEval.jsonl.gz").write_bytes(data[: len(data) // 2])
    return [f"paths.data_dir={root / 'data'}", "task=humaneval", "task.confirm_run_unsafe_code=true"]


# ---------------------------------------------------------------- model dirs
def _model_dir(files: dict[str, str]) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        folder = root / "model"
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
        return ["model=llama32_1b_instruct", f"model.path={folder}"]

    return setup


CONFIG_JSON = json.dumps({"model_type": "llama"})

CASES = {
    # configuration (validated before any stage runs)
    "budget float": (lambda root: ["budget=12.5"], "budget"),
    "budget word": (lambda root: ["budget=abc"], "budget"),
    "budget zero": (lambda root: ["budget=0"], "budget"),
    "budget bool": (lambda root: ["budget=true"], "budget"),
    "seed word": (lambda root: ["seed=abc"], "seed"),
    "seed float": (lambda root: ["seed=1.5"], "seed"),
    "seed negative": (lambda root: ["seed=-1"], "seed"),
    "trainer mode": (lambda root: ["trainer.mode=lorra"], "trainer.mode"),
    "trainer batching": (lambda root: ["trainer.batching=sorted"], "trainer.batching"),
    "stop_after unknown stage": (lambda root: ["run.stop_after=train_9"], "run.stop_after"),
    "stop_after typo": (lambda root: ["run.stop_after=sed"], "run.stop_after"),
    "int key given a word": (lambda root: ["task.val_size=abc"], "task.val_size"),
    "int key given a float": (lambda root: ["trainer.batch_size=1.5"], "trainer.batch_size"),
    "float key given a word": (lambda root: ["trainer.lr=abc"], "trainer.lr"),
    "bool key given a word": (lambda root: ["run.eval_val=maybe"], "run.eval_val"),
    "null-default int key given a word": (lambda root: ["trainer.max_steps=abc"], "trainer.max_steps"),
    "null-default int key given a float": (lambda root: ["eval.max_new_tokens=2.5"], "eval.max_new_tokens"),
    "method int given a word": (
        lambda root: ["method=pada", "method.loop.iterations=abc"],
        "method.loop.iterations",
    ),
    "unknown top-level key": (lambda root: ["budgett=10"], "budgett"),
    "unknown added top-level key": (lambda root: ["+budgett=10"], "budgett"),
    "unknown nested key": (lambda root: ["trainer.lrr=0.1"], "trainer.lrr"),
    "malformed override": (lambda root: ["budget=[1"], "budget"),
    "wandb project wandb refuses": (
        lambda root: ["wandb.mode=offline", "wandb.project=qa:v2"],
        "wandb.project='qa:v2' is refused by wandb",
    ),
    "lm-eval pada task with shots but no chat template": (
        lambda root: [
            "+task.fewshot={source: pool, n: 2}",
            "eval.lm_eval.enabled=true",
            "eval.lm_eval.apply_chat_template=false",
        ],
        "eval.lm_eval.pada_task checks pada's few-shot prompts, which are chat turns",
    ),
    # plug-in classes named by _target_ (pada/targets.py)
    "method _target_ not importable": (
        lambda root: ["method._target_=no_such_pkg.Dup"],
        "method._target_='no_such_pkg.Dup' cannot be imported (No module named 'no_such_pkg')",
    ),
    "task _target_ not a Task": (lambda root: ["task._target_=pada.types.Example"], "is not a Task"),
    "eval _target_ not a Backend": (lambda root: ["eval._target_=pada.types.Example"], "is not a Backend"),
    "teacher _target_ missing class": (
        lambda root: ["teacher=scripted", "teacher._target_=pada.teacher.providers.scripted.Nope"],
        "module pada.teacher.providers.scripted has no 'Nope'",
    ),
    "sim oracle analysis fidelity out of [0, 1]": (
        lambda root: ["teacher=sim_oracle", "teacher.analysis_fidelity=1.5"],
        "teacher.analysis_fidelity must be in [0, 1], got 1.5",
    ),
    "old method.module key": (lambda root: ["+method.module=my.mod"], "method.module is no longer read"),
    "old task type: files": (lambda root: ["+task.type=files"], "task.type is no longer read"),
    "old eval.backend key": (
        lambda root: ["+eval.backend=vllm"],
        "eval.backend is no longer read: choose eval=",
    ),
    # trainer.lora against the architecture and the evaluation engine (LlamaFactory#3597, vllm#2847, #9280)
    "lora target no module has": (
        lambda root: ["trainer.lora.target_modules=[qkv_proj]"],
        "trainer.lora.target_modules: qkv_proj matches no module of LlamaForCausalLM; its layers are named:",
    ),
    "lora targets one of which no module has": (
        lambda root: ["trainer.lora.target_modules=[q_proj,qkv_proj]"],
        "trainer.lora.target_modules: qkv_proj matches no module",
    ),
    "lora target a block of layers": (
        lambda root: ["trainer.lora.target_modules=[mlp]"],
        "trainer.lora.target_modules: mlp names LlamaMLP, a block of layers LoRA cannot adapt as one",
    ),
    "lora target LoRA cannot wrap": (
        lambda root: ["trainer.lora.target_modules=[act_fn]"],
        "trainer.lora: Target module SiLUActivation is not supported",
    ),
    "lora modules_to_save no module has": (
        lambda root: ["trainer.lora.modules_to_save=[head]"],
        "trainer.lora.modules_to_save: head matches no module",
    ),
    "lora rank above vllm's max_lora_rank": (
        lambda root: ["eval=vllm", "trainer.lora.r=128"],
        "trainer.lora.r=128 is above eval.max_lora_rank=64: vLLM would refuse the adapter at the first "
        "evaluation, after training; set eval.max_lora_rank=128",
    ),
    "vllm max_lora_rank vllm does not accept": (
        lambda root: ["eval=vllm", "eval.max_lora_rank=48"],
        "eval.max_lora_rank=48: vLLM accepts only 1, 8, 16, 32, 64, 128, 256, 320, 512",
    ),
    "lora modules_to_save with vllm": (
        lambda root: ["eval=vllm", "trainer.lora.modules_to_save=[lm_head]"],
        "trainer.lora.modules_to_save=['lm_head']: vLLM loads only LoRA weights",
    ),
    "lora rank above lm_eval's vllm max_lora_rank": (
        lambda root: ["eval.lm_eval.enabled=true", "eval.lm_eval.model=vllm", "trainer.lora.r=128"],
        "trainer.lora.r=128 is above eval.lm_eval.max_lora_rank=64",
    ),
    # model dirs
    "model dir without weights": (
        _model_dir({"config.json": CONFIG_JSON, "tokenizer.json": "{}"}),
        "weights",
    ),
    "model dir with only config.json": (_model_dir({"config.json": CONFIG_JSON}), "weights"),
    "model dir without tokenizer": (
        _model_dir({"config.json": CONFIG_JSON, "model.safetensors": ""}),
        "tokenizer",
    ),
    # data files: file:line
    "gsm8k truncated": (_gsm8k(_truncate), "train.jsonl:60"),
    "gsm8k non-utf8": (_gsm8k(_non_utf8), "train.jsonl:4"),
    "gsm8k other keys": (_gsm8k(_other_keys), "train.jsonl:1"),
    "gsm8k json array": (_gsm8k(_json_array), "train.jsonl:1"),
    "gsm8k json array on one line": (_gsm8k(_json_array_one_line), "train.jsonl:1"),
    "gsm8k answer without ####": (_gsm8k(_no_answer_line), "train.jsonl:6"),
    "arc row without choices": (_arc("choices"), "ARC-Challenge-Train.jsonl:3"),
    "arc row without stem": (_arc("stem"), "ARC-Challenge-Train.jsonl:3"),
    "mbpp empty test_list": (_mbpp("test_list", []), "mbpp.jsonl:701"),
    "mbpp test_list asserting nothing": (_mbpp("test_list", ["pass", "x = 1"]), "mbpp.jsonl:701"),
    "mmlu csv non-utf8": (_mmlu(b"Q\xe9?,a,b,c,d,A\n"), "anatomy_val.csv:9"),
    "mmlu csv wrong columns": (_mmlu(b"Q?,a,b,A\n"), "anatomy_val.csv:9"),
    "humaneval gzip cut short": (_humaneval_gz, "HumanEval.jsonl.gz"),
    "mbpp test_list not a list": (_mbpp("test_list", "assert f(0) == 700"), "mbpp.jsonl:701"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_nothing_done(case, capsys, tiny_cell_overrides, tmp_path):
    setup, message = CASES[case]
    extra = setup(tmp_path)
    runs = tmp_path / "runs"
    other_task = any(e.startswith("task=") for e in extra)  # gsm8k's keys (task.val_size) do not apply
    base = [o for o in tiny_cell_overrides if not (other_task and o.startswith("task."))]
    code, err = _run(capsys, [*base, *extra])
    _assert_contract(code, err, runs, {}, message)


# ---------------------------------------------------------------- a finished cell's dir
@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """One finished tiny cell (its runs dir), copied by each test that breaks it."""
    root = tmp_path_factory.mktemp("finished")
    data = write_tiny_gsm8k(root / "data" / "gsm8k")
    args = [
        f"paths.runs_dir={root / 'runs'}",
        f"paths.data_dir={data}",
        f"paths.cache_dir={root / 'cache'}",
        "budget=16",
        "task.val_size=10",
        "task.limits.test=8",
        "trainer.max_steps=2",
        "trainer.batch_size=4",
        "trainer.grad_accum=1",
        "eval.max_new_tokens=4",
        "wandb.mode=disabled",
    ]
    assert main(["run", *args]) == 0
    return root


def _cell_args(root: Path) -> list[str]:
    return [
        f"paths.runs_dir={root / 'runs'}",
        f"paths.data_dir={root / 'data'}",
        f"paths.cache_dir={root / 'cache'}",
        "budget=16",
        "task.val_size=10",
        "task.limits.test=8",
        "trainer.max_steps=2",
        "trainer.batch_size=4",
        "trainer.grad_accum=1",
        "eval.max_new_tokens=4",
        "wandb.mode=disabled",
    ]


def _break_marker(how: str) -> Callable[[Path], None]:
    def breaks(cell: Path) -> None:
        marker = cell / "train_0" / DONE
        if how == "truncated":
            marker.write_bytes(marker.read_bytes()[:25])
        elif how == "keyless":
            marker.write_text(
                json.dumps({k: v for k, v in json.loads(marker.read_text()).items() if k != "key"})
            )
        else:
            marker.write_text(json.dumps(["not", "an", "object"]))

    return breaks


@pytest.mark.slow
@pytest.mark.parametrize("how", ["truncated", "keyless", "not an object"])
def test_broken_done_marker_is_one_line(how, finished, capsys, tmp_path):
    shutil.copytree(finished, tmp_path, dirs_exist_ok=True)
    (cell,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith("_")]
    _break_marker(how)(cell)
    before = _snapshot(tmp_path / "runs")
    code, err = _run(capsys, _cell_args(tmp_path))
    _assert_contract(code, err, tmp_path / "runs", before, f"{cell.name}/train_0/{DONE}")


def _mount(target: Path, options: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True
        )
    except OSError:
        return False
    return done.returncode == 0


@pytest.fixture
def mounts():
    mounted = []
    yield mounted
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


@pytest.mark.slow
@pytest.mark.parametrize("finished_cell", [False, True], ids=["new cell", "re-run of a finished cell"])
def test_read_only_runs_dir_is_one_line(finished_cell, finished, capsys, tmp_path, mounts):
    runs = tmp_path / "runs"
    if not _mount(runs, "size=64m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    mounts.append(runs)
    for part in ("cache", "data"):
        shutil.copytree(finished / part, tmp_path / part)
    if finished_cell:
        shutil.copytree(finished / "runs", runs, dirs_exist_ok=True)
    subprocess.run(["mount", "-o", "remount,ro", str(runs)], check=True)
    before = _snapshot(runs)
    code, err = _run(capsys, _cell_args(tmp_path))
    _assert_contract(code, err, runs, before, "runs")


@pytest.mark.slow
def test_full_disk_is_one_line(finished, capsys, tmp_path, mounts):
    runs = tmp_path / "runs"
    if not _mount(runs, "size=1m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    mounts.append(runs)
    shutil.copytree(finished / "cache", tmp_path / "cache")
    shutil.copytree(finished / "data", tmp_path / "data")
    code, err = _run(capsys, _cell_args(tmp_path))
    _assert_contract(code, err, runs, {}, "")


def test_no_space_mid_stage_is_one_line_and_nothing_done(capsys, tiny_cell_overrides, tmp_path, monkeypatch):
    """ENOSPC simulated where no tmpfs can be mounted: the first stage's write fails."""
    import pada.io

    real = pada.io.atomic_write_text

    def full(path, text):
        if path.name != DONE and "seed" in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, text)

    monkeypatch.setattr(pada.io, "atomic_write_text", full)
    code, err = _run(capsys, tiny_cell_overrides)
    _assert_contract(code, err, tmp_path / "runs", {}, "No space left on device")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("budget=abc", "budget='abc' must be an integer"),
        ("trainer.mode=lorra", "trainer.mode='lorra'"),
        ("run.stop_after=train_9", "run.stop_after='train_9' is not a stage"),
        (
            "teacher=sim_oracle teacher.analysis_fidelity=-0.5",
            "teacher scripted: teacher.analysis_fidelity must be",
        ),
        ("trainer.lora.target_modules=[qkv_proj]", "trainer.lora.target_modules: qkv_proj matches no module"),
        ("eval=vllm trainer.lora.r=128", "trainer.lora.r=128 is above eval.max_lora_rank=64"),
        ("method._target_=no_such_pkg.Dup", "sft on gsm8k: method._target_='no_such_pkg.Dup' cannot be"),
        (
            "eval._target_=pada.types.Example",
            "sft on gsm8k: eval._target_='pada.types.Example' is not a Back",
        ),
    ],
)
def test_preflight_lists_the_same_config_problems(override, message, tiny_cell_overrides):
    from pada.preflight import preflight

    if "trainer.lora.target_modules" in override:  # checked where the tiny student is built: on a first run
        main(["run", *tiny_cell_overrides, "run.stop_after=seed"])
    problems, _ = preflight([*tiny_cell_overrides, *override.split()])
    assert any(p.startswith(message) for p in problems), problems
