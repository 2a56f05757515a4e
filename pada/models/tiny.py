"""A tiny random Llama with an offline-built tokenizer and chat template, for CPU tests and demos.

It is saved to a local directory and then loaded through the same ``from_pretrained`` path as the real
student, so every code path a real model takes is exercised.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from pada.models.chat import apply_chat_template

log = logging.getLogger("pada")

SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|eos|>", "<|user|>", "<|assistant|>", "<|system|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}<|system|>{{ m['content'] }}"
    "{% elif m['role'] == 'user' %}<|user|>{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}<|assistant|>{{ m['content'] }}{{ eos_token }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
# A fixed corpus so the BPE merges (and so every token id) are the same on every machine.
_CORPUS = [
    "Solve the following math problem step by step. The answer is",
    "Question: How many apples does she have left? Answer: She has 12 - 5 = 7 apples left. #### 7",
    "What is the total cost in dollars? The total is 3 * 4 = 12 dollars.",
    "Which of the following is correct? A B C D The best answer is",
    "def add(a, b):\n    return a + b\nassert add(1, 2) == 3",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 + - * / = ( ) , . ? ! : ; # $ %",
    "the of and to in is was for on that with as by at from it an be this are or",
]


def build_tokenizer(vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodes: no unknown tokens
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 4, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|bos|>",
        eos_token="<|eos|>",
        pad_token="<|pad|>",
        additional_special_tokens=["<|user|>", "<|assistant|>", "<|system|>"],
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def build_tiny_model(out_dir: Path, cfg: Any) -> Path:
    """Write a random LlamaForCausalLM + tokenizer to ``out_dir`` (atomically; a no-op if present)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    if (out_dir / "config.json").is_file():
        return out_dir
    tokenizer = build_tokenizer(cfg.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(cfg.init_seed)
    model = LlamaForCausalLM(config)
    if cfg.get("pretrain"):
        pretrain(model, tokenizer, cfg.pretrain)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.rename(out_dir)
    except OSError:  # ENOTEMPTY/EEXIST: another process built it first; theirs is identical
        shutil.rmtree(tmp, ignore_errors=True)
        if not (out_dir / "config.json").is_file():
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _corpus_fn(spec: str):
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def pretrain(model, tokenizer, cfg: Any) -> None:
    """Briefly pre-train the random model on a corpus (``module:function(rng, n)`` -> chats or strings).

    LoRA on a random base barely learns; a short causal-LM pre-training gives the student a prior to adapt.
    """
    import random

    from pada import progress

    corpus = _corpus_fn(cfg.corpus)
    rng = random.Random(cfg.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    model.train()
    log.info("pre-training the tiny student: %d steps, once per cache dir (then reused)", cfg.steps)
    started, lines = time.time(), progress.StepLog("pre-train student", cfg.steps)
    for step in progress.bar(range(cfg.steps), desc="pre-train student", unit="step"):
        texts = [
            apply_chat_template(tokenizer, item, tokenize=False)
            if isinstance(item, list)
            else tokenizer.bos_token + item + tokenizer.eos_token
            for item in corpus(rng, cfg.batch_size)
        ]
        batch = tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        model(**batch, labels=labels).loss.backward()  # Llama has no dropout: no torch rng is consumed
        optimizer.step()
        optimizer.zero_grad()
        lines.step(step + 1)
    model.eval()
    seconds = time.time() - started
    progress.one_time_setup(seconds)
    log.info("pre-trained the tiny student in %s (the sweep's ETA leaves it out)", progress.duration(seconds))
