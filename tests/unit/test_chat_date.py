"""Chat templates that print today's date (Llama 3.x's ``Today Date:``) give the same ids on any day.

A tiny tokenizer gets a template of that shape; transformers' wall clock is faked to two calendar days; every
path that renders a chat template must give identical ids (the pinned ``chat_template_date``)."""

from __future__ import annotations

import datetime as dt
import types

import pytest
import transformers.utils.chat_template_utils as chat_utils
from backend_fixtures import tiny_cfg

from pada.models import chat
from pada.models.tiny import build_tokenizer
from pada.types import Example, SamplingParams

# Llama 3.1's header logic, reduced: date_string if given, else strftime_now if defined, else a fixed date
LLAMA_LIKE = (
    "{{ bos_token }}{%- if not date_string is defined %}{%- if strftime_now is defined %}"
    "{%- set date_string = strftime_now('%d %b %Y') %}{%- else %}{%- set date_string = '26 Jul 2024' %}"
    "{%- endif %}{%- endif %}<|system|>Today Date: {{ date_string }}\n"
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
# A template that calls the clock directly, in another format
DIRECT = (
    "{{ bos_token }}<|system|>{{ strftime_now('%Y-%m-%d') }}{% for m in messages %}<|{{ m['role'] }}|>"
    "{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
CHAT = [{"role": "user", "content": "What is 2 + 2?"}]
DAYS = (dt.datetime(2026, 11, 29, 23, 59), dt.datetime(2026, 11, 30, 0, 1))


@pytest.fixture(params=[LLAMA_LIKE, DIRECT], ids=["llama-like", "direct strftime_now"])
def tokenizer(request):
    tok = build_tokenizer(tiny_cfg().vocab_size)
    tok.chat_template = request.param
    return tok


def on_day(monkeypatch, day: dt.datetime) -> None:
    """transformers' ``strftime_now`` reads ``datetime.now()`` of its module: fake that clock."""
    fake = types.SimpleNamespace(now=lambda: day)
    monkeypatch.setattr(chat_utils, "datetime", fake)
    chat_utils._compile_jinja_template.cache_clear()


def ids_on_each_day(monkeypatch, render) -> list:
    out = []
    for day in DAYS:
        on_day(monkeypatch, day)
        out.append(render())
    return out


def test_the_fault_unpinned_rendering_changes_with_the_day(monkeypatch, tokenizer):
    first, second = ids_on_each_day(monkeypatch, lambda: tokenizer.apply_chat_template(CHAT, tokenize=False))
    assert first != second  # what transformers does on its own: the reason for the pin


def test_training_features_are_the_same_on_any_day(monkeypatch, tokenizer):
    from pada.training.data import build_feature, chat_prompt_ids

    example = Example(id="x", prompt="What is 2 + 2?", target="4", answer="4")
    first, second = ids_on_each_day(monkeypatch, lambda: build_feature(tokenizer, example, 512, "Be brief."))
    assert first == second
    prompt = tokenizer.decode(chat_prompt_ids(tokenizer, "q"))
    assert chat.date_string() in prompt or "2024-07-26" in prompt


def test_transformers_and_vllm_backends_encode_the_same_on_any_day(monkeypatch, tokenizer):
    from pada.inference.transformers_backend import TransformersBackend
    from pada.inference.vllm_backend import VLLMBackend

    for cls in (TransformersBackend, VLLMBackend):
        backend = cls.__new__(cls)
        backend.tokenizer = tokenizer
        first, second = ids_on_each_day(monkeypatch, lambda b=backend: b.encode(CHAT))
        assert first == second, cls.__name__


def test_lm_eval_renders_with_the_pinned_date(monkeypatch, tokenizer, tmp_path):
    """lm-eval's HFLM.apply_chat_template, given the chat_template_args pada passes it."""
    from lm_eval.models.huggingface import HFLM

    from pada.inference import lm_eval_scores

    seen = {}

    def fake_evaluate(**kwargs):
        seen.update(kwargs)
        return {"samples": {}, "results": {}}

    import lm_eval

    monkeypatch.setattr(lm_eval, "simple_evaluate", fake_evaluate)
    cfg = types.SimpleNamespace(
        model="hf", dtype="float32", device="cpu", batch_size=1, limit=None, apply_chat_template=True, seed=0
    )
    lm_eval_scores.evaluate(cfg, "/base", None, [], tmp_path)
    fake_lm = types.SimpleNamespace(
        tokenizer=tokenizer, chat_template_args=seen["model_args"]["chat_template_args"]
    )
    first, second = ids_on_each_day(monkeypatch, lambda: HFLM.apply_chat_template(fake_lm, CHAT))
    assert first == second


def test_openai_backend_sends_the_pinned_date_to_the_server():
    from pada.inference.openai_backend import request_body

    body = request_body(CHAT, SamplingParams(max_new_tokens=4), "m")
    assert body["extra_body"] == {"chat_template_kwargs": {"date_string": "26 Jul 2024"}}
    assert "extra_body" not in request_body("templated text", SamplingParams(max_new_tokens=4), "m")
    assert "extra_body" not in request_body(CHAT, SamplingParams(max_new_tokens=4), "m", pin_date=False)


def test_the_date_is_configurable_and_part_of_the_cell_identity(monkeypatch, tokenizer):
    from conftest import compose_config

    from pada.run.naming import cell_name

    on_day(monkeypatch, DAYS[0])
    try:
        chat.pin_date("2025-01-02")
        assert "02 Jan 2025" in chat.apply_chat_template(tokenizer, CHAT, tokenize=False) or (
            "2025-01-02" in chat.apply_chat_template(tokenizer, CHAT, tokenize=False)
        )
    finally:
        chat.pin_date(chat.DEFAULT_DATE)
    default, other = compose_config([]), compose_config(["chat_template_date=2025-01-02"])
    assert default.chat_template_date == chat.DEFAULT_DATE
    assert cell_name(default) != cell_name(other)
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        chat.pin_date("yesterday")
