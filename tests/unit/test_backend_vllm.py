"""vLLM backend: request building and result parsing with vLLM-shaped fakes in the real worker process;
the `vllm`-marked tests run the real engine where vLLM is installed (GPU hosts)."""

from __future__ import annotations

import json
from pathlib import Path

import fake_vllm
import pytest
from backend_fixtures import CHATS, build_lora, build_sharp_tiny, tiny_cfg
from omegaconf import OmegaConf

from pada.errors import PadaError
from pada.inference.base import build_backend
from pada.inference.transformers_backend import TransformersBackend
from pada.inference.vllm_backend import VLLMBackend, engine_kwargs, parse_outputs, sampling_kwargs
from pada.models.tiny import build_tiny_model
from pada.types import Completion, SamplingParams

ROOT = Path(__file__).resolve().parents[2]


def vllm_cfg(**overrides):
    return OmegaConf.merge(OmegaConf.load(ROOT / "conf" / "eval" / "vllm.yaml"), overrides)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", tiny_cfg())


@pytest.fixture
def fake(monkeypatch, tmp_path):
    log = tmp_path / "fake_vllm.jsonl"
    monkeypatch.setattr(VLLMBackend, "api", "fake_vllm:api")
    monkeypatch.setenv("FAKE_VLLM_LOG", str(log))  # inherited by the spawned worker

    def rows():
        return [json.loads(line) for line in log.read_text().splitlines()]

    return rows


def _adapter(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir(parents=True)
    (tmp_path / name / "adapter_config.json").write_text("{}")
    return tmp_path / name


def test_engine_kwargs_from_the_default_config():
    assert engine_kwargs("/m", vllm_cfg(engine_kwargs={"tensor_parallel_size": 2}, max_model_len=None)) == {
        "model": "/m",
        "dtype": "bfloat16",
        "seed": 0,
        "enable_lora": True,
        "max_lora_rank": 64,
        "max_loras": 1,
        "gpu_memory_utilization": 0.85,
        "enforce_eager": False,
        "generation_config": "vllm",
        "tensor_parallel_size": 2,
    }


def test_sampling_kwargs_greedy_and_seeded():
    greedy = sampling_kwargs(SamplingParams(max_new_tokens=7, stop=("####",)), [2], 2)
    assert (
        greedy
        == [
            {
                "n": 1,
                "temperature": 0.0,
                "top_p": 1.0,
                "max_tokens": 7,
                "stop": ["####"],
                "stop_token_ids": [2],
                "skip_special_tokens": True,
            }
        ]
        * 2
    )
    sampled = sampling_kwargs(SamplingParams(max_new_tokens=7, temperature=0.8, seed=5), [2, 9], 3)
    assert [s["seed"] for s in sampled] == [5, 6, 7]
    assert sampled[0]["temperature"] == 0.8 and sampled[0]["stop_token_ids"] == [2, 9]


def test_parse_outputs_reads_request_outputs():
    outputs = [
        fake_vllm.RequestOutput(
            "0",
            None,
            [1, 2, 3],
            None,
            [fake_vllm.CompletionOutput(0, "7 apples", [5, 6, 2], None, None, "stop", 2)],
        ),
        fake_vllm.RequestOutput(
            "1", None, [1], None, [fake_vllm.CompletionOutput(0, "x y", [8, 9], None, None, "length")]
        ),
    ]
    assert parse_outputs(outputs) == [("7 apples", 3, 3, "stop"), ("x y", 1, 2, "length")]
    outputs[1].outputs[0].finish_reason = "abort"
    with pytest.raises(RuntimeError, match="finish_reason=abort"):
        parse_outputs(outputs)


def test_worker_process_builds_requests_and_swaps_adapters(fake, tiny_dir, tmp_path):
    a, b = _adapter(tmp_path, "train_0/model"), _adapter(tmp_path, "train_1/model")
    backend = build_backend(str(tiny_dir), vllm_cfg(env={"VLLM_BATCH_INVARIANT": "1"}))
    reference = TransformersBackend(str(tiny_dir), OmegaConf.create({"dtype": "float32"}))
    params = SamplingParams(max_new_tokens=5, stop=("\n",))
    try:
        base = backend.generate(CHATS[:2], params)
        tuned = backend.generate(CHATS[:2], params, adapter=str(a))
        backend.generate(CHATS[:1], params, adapter=str(b))
        backend.generate(CHATS[:1], params, adapter=str(a))
        process = backend._process
    finally:
        backend.close()
    assert not process.is_alive()
    engine, *requests = fake()
    assert engine["engine"]["model"] == str(tiny_dir) and engine["engine"]["enable_lora"] is True
    assert engine["env"] == {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_BATCH_INVARIANT": "1"}
    ids = [reference.encode(c) for c in CHATS[:2]]
    assert requests[0]["prompts"] == [{"prompt_token_ids": i} for i in ids]  # the exact template tokens
    assert requests[0]["sampling"][0] == {
        "n": 1,
        "temperature": 0.0,
        "top_p": 1.0,
        "max_tokens": 5,
        "stop": ["\n"],
        "stop_token_ids": [2],
        "skip_special_tokens": True,
    }
    assert [r["lora"] for r in requests] == [
        None,
        {"lora_name": "adapter-1", "lora_int_id": 1, "lora_path": str(a.resolve())},
        {"lora_name": "adapter-2", "lora_int_id": 2, "lora_path": str(b.resolve())},
        {"lora_name": "adapter-1", "lora_int_id": 1, "lora_path": str(a.resolve())},  # same id: no reload
    ]
    assert base[0] == Completion(" ".join(map(str, ids[0][::-1][:5])), len(ids[0]), 5, "length")
    assert tuned[0].text == " ".join(str(t + 1) for t in ids[0][::-1][:5])


def test_full_model_dir_gets_its_own_engine(fake, tiny_dir, tmp_path):
    full = tmp_path / "train_0" / "model"  # a fully fine-tuned model: config.json, no adapter_config.json
    full.mkdir(parents=True)
    (full / "config.json").write_text("{}")
    backend = build_backend(str(tiny_dir), vllm_cfg())
    try:
        backend.generate(CHATS[:1], SamplingParams(max_new_tokens=3))
        backend.generate(CHATS[:1], SamplingParams(max_new_tokens=3), adapter=str(full))
        backend.generate(CHATS[:1], SamplingParams(max_new_tokens=3), adapter=str(full))
    finally:
        backend.close()
    rows = fake()
    assert [r["engine"]["model"] for r in rows if "engine" in r] == [str(tiny_dir), str(full)]  # then reused
    assert [r["lora"] for r in rows if "prompts" in r] == [None, None, None]


def test_missing_vllm_is_a_one_line_user_error(monkeypatch, tiny_dir):
    monkeypatch.setattr(VLLMBackend, "api", "fake_vllm:broken_api")
    backend = build_backend(str(tiny_dir), vllm_cfg())
    with pytest.raises(
        PadaError, match=r"vllm is not installed; on a GPU host run `pip install 'pada\[gpu\]'`"
    ):
        backend.generate(CHATS[:1], SamplingParams(max_new_tokens=3))
    assert backend._process is None


@pytest.mark.vllm
def test_real_vllm_matches_transformers_and_applies_lora(tmp_path):
    pytest.importorskip("vllm")
    model = build_sharp_tiny(tmp_path / "sharp")
    adapter = build_lora(model, tmp_path / "lora")
    params = SamplingParams(max_new_tokens=12)
    hf = TransformersBackend(
        str(model),
        OmegaConf.create({"batch_size": 1, "device": "cuda", "dtype": "float32", "progress_bar": False}),
    )
    backend = build_backend(
        str(model),
        vllm_cfg(
            dtype="float32",
            max_lora_rank=8,
            enforce_eager=True,
            max_model_len=1024,
            gpu_memory_utilization=0.3,
        ),
    )
    try:
        base, tuned = backend.generate(CHATS, params), backend.generate(CHATS, params, adapter=str(adapter))
    finally:
        backend.close()
    assert base == hf.generate(CHATS, params)
    assert tuned == hf.generate(CHATS, params, adapter=str(adapter))
    assert sum(x.text != y.text for x, y in zip(base, tuned, strict=True)) >= len(CHATS) // 2
