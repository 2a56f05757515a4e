"""The reference backend on a tiny random Llama: batching, stops, EOS, seeds, adapters."""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest
import torch
from backend_fixtures import CHATS, backend_cfg, build_lora, build_sharp_tiny

from pada.errors import PadaError
from pada.inference.base import build_backend
from pada.inference.transformers_backend import TransformersBackend
from pada.types import SamplingParams

GREEDY = SamplingParams(max_new_tokens=12)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_sharp_tiny(tmp_path_factory.mktemp("tiny") / "sharp")


@pytest.fixture(scope="module")
def backend(model_dir):
    return TransformersBackend(str(model_dir), backend_cfg(batch_size=4))


@functools.cache
def _hf_model(path: str):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path).eval()


def _reference_ids(model_dir, backend, chat, n: int) -> list[int]:
    """Greedy ids from plain HF generate on one unpadded prompt: what batching must not change."""
    model = _hf_model(str(model_dir))
    prompt = torch.tensor([backend.encode(chat)])
    out = model.generate(prompt, max_new_tokens=n, do_sample=False, eos_token_id=None, pad_token_id=0)
    return out[0, prompt.shape[1] :].tolist()


def test_batched_greedy_equals_unbatched_reference(model_dir, backend):
    completions = backend.generate(CHATS, GREEDY)
    for chat, completion in zip(CHATS, completions, strict=True):
        ids = _reference_ids(model_dir, backend, chat, 12)
        assert completion.text == backend.tokenizer.decode(ids, skip_special_tokens=True)
    assert len({c.text for c in completions}) == len(CHATS)  # varied outputs, so equality means something
    single = TransformersBackend(str(model_dir), backend_cfg(batch_size=1))
    assert single.generate(CHATS, GREEDY) == completions
    assert all(c.finish_reason == "length" and c.output_tokens == 12 for c in completions)
    assert [c.prompt_tokens for c in completions] == [len(backend.encode(c)) for c in CHATS]


def test_results_come_back_in_input_order(backend):
    forward = backend.generate(CHATS, GREEDY)
    backward = backend.generate(CHATS[::-1], GREEDY)
    assert [c.text for c in forward] == [c.text for c in backward[::-1]]


def test_raw_prompt_string_equals_chat(backend):
    rendered = backend.tokenizer.apply_chat_template(CHATS[3], add_generation_prompt=True, tokenize=False)
    assert backend.generate([rendered], GREEDY) == backend.generate([CHATS[3]], GREEDY)


def test_stop_string_cuts_each_row_at_its_own_stop(backend):
    full = backend.generate(CHATS[:4], SamplingParams(max_new_tokens=16))
    # For each row a stop string taken from the middle of its own output; other rows never contain it.
    stops = tuple(c.text[len(c.text) // 2 : len(c.text) // 2 + 3] for c in full[:2])
    assert all(sum(s in c.text for c in full) == 1 for s in stops)
    cut = backend.generate(CHATS[:4], SamplingParams(max_new_tokens=16, stop=stops))
    for row, (before, after) in enumerate(zip(full, cut, strict=True)):
        if row < 2:
            assert after.text == before.text[: before.text.index(stops[row])]
            assert after.finish_reason == "stop"
            assert after.output_tokens < 16
        else:
            assert after == before


def test_eos_ends_the_row_and_counts_the_eos_token(model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    backend = TransformersBackend(str(model_dir), backend_cfg())
    ids = _reference_ids(model_dir, backend, CHATS[0], 12)
    # Declare the 5th generated token an EOS id (as Llama 3 lists <|eot_id|> next to <|end_of_text|>).
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.generation_config.eos_token_id = [backend.tokenizer.eos_token_id, ids[4]]
    model.save_pretrained(tmp_path)
    for f in model_dir.iterdir():
        if f.name.startswith(("tokenizer", "chat_template")):
            (tmp_path / f.name).write_bytes(f.read_bytes())
    ended = TransformersBackend(str(tmp_path), backend_cfg()).generate(CHATS[:1], GREEDY)[0]
    first_eos = ids.index(ids[4])
    assert ended.output_tokens == first_eos + 1
    assert ended.finish_reason == "stop"
    assert ended.text == backend.tokenizer.decode(ids[:first_eos])


def test_seeded_sampling_is_reproducible_and_seed_dependent(backend):
    params = SamplingParams(max_new_tokens=12, temperature=1.0, seed=7)
    first, again = backend.generate(CHATS, params), backend.generate(CHATS, params)
    other = backend.generate(CHATS, replace(params, seed=8))
    greedy = backend.generate(CHATS, GREEDY)
    assert first == again
    assert [c.text for c in first] != [c.text for c in other]
    assert [c.text for c in first] != [c.text for c in greedy]


def test_adapter_changes_output_and_base_comes_back(model_dir, backend, tmp_path):
    adapter = build_lora(model_dir, tmp_path / "lora")
    base = backend.generate(CHATS, GREEDY)
    tuned = backend.generate(CHATS, GREEDY, adapter=str(adapter))
    assert sum(a.text != b.text for a, b in zip(base, tuned, strict=True)) >= len(CHATS) // 2
    assert backend.generate(CHATS, GREEDY) == base


def test_build_backend_builds_the_target(model_dir):
    assert isinstance(build_backend(str(model_dir), backend_cfg()), TransformersBackend)
    with pytest.raises(PadaError, match=r"eval._target_='pada.inference.nope.B' cannot be imported"):
        build_backend(str(model_dir), backend_cfg(_target_="pada.inference.nope.B"))
