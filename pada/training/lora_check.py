"""``trainer.lora`` checked against the student's architecture and the evaluation engine before any stage,
so a bad module name or an adapter vLLM cannot load is one line, not a traceback at train_0 (LlamaFactory#3597)
or at the first evaluation after training (vllm#2847, #9280)."""

from __future__ import annotations

import re
from typing import Any

from pada.errors import PadaError, clip

# vLLM's LoRAConfig.max_lora_rank is typed Literal[1, 8, 16, 32, 64, 128, 256, 320, 512] (vllm/config/lora.py,
# vLLM >= 0.14; its default is 16); an adapter whose r exceeds it is refused when it is loaded.
VLLM_MAX_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


def meta_model(model_path: str, revision: str | None = None) -> Any:
    """The student built from its config alone on the meta device (accelerate.init_empty_weights): every
    module with its type, no weights read or allocated."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(model_path, revision=revision)
    except Exception as error:  # transformers raises many types; preflight's model check names the fix
        raise PadaError(f"cannot read the config of model {model_path}: {error}".splitlines()[0]) from error
    with init_empty_weights():
        return AutoModelForCausalLM.from_config(config)


def _unmatched(names: list[str], wanted: list[str]) -> list[str]:
    """The entries of ``wanted`` that match no module name the way PEFT matches (the name, or a dotted
    suffix of it: peft.tuners.tuners_utils.check_target_module_exists)."""
    return [w for w in wanted if not any(n == w or n.endswith(f".{w}") for n in names)]


def check_lora_targets(trainer: Any, model: Any) -> None:
    """Every ``trainer.lora.target_modules`` and ``modules_to_save`` entry names a module of ``model`` (a
    meta model is enough), and PEFT can wrap them (apply_lora on the meta model). Raises PadaError."""
    if trainer.mode != "lora":
        return
    from pada.training.lora import apply_lora

    modules = dict(model.named_modules())
    leaves = sorted({n.rsplit(".", 1)[-1] for n, m in modules.items() if n and not list(m.children())})
    for key in ("target_modules", "modules_to_save"):
        missing = _unmatched(list(modules), [str(m) for m in trainer.lora[key] or []])
        if missing:
            raise PadaError(
                f"trainer.lora.{key}: {', '.join(missing)} matches no module of {type(model).__name__}; "
                f"its layers are named: {', '.join(leaves)}"
            )
    for target in trainer.lora.target_modules:
        blocks = {
            type(m).__name__
            for n, m in modules.items()
            if not _unmatched([n], [target]) and list(m.children())
        }
        if blocks:
            raise PadaError(
                f"trainer.lora.target_modules: {target} names {', '.join(sorted(blocks))}, a block of layers "
                f"LoRA cannot adapt as one; name its layers instead ({', '.join(leaves)})"
            )
    try:
        apply_lora(model, trainer, low_cpu_mem_usage=True)
    except (ValueError, TypeError) as error:  # PEFT's own refusal, its module reprs cut out
        reason = re.sub(r"\(.*?\)", "", " ".join(str(error).split()))
        raise PadaError(clip(f"trainer.lora: {reason}", 300)) from error


def check_vllm_adapter(trainer: Any, max_lora_rank: Any, where: str) -> None:
    """An adapter vLLM will load: ``max_lora_rank`` one of VLLM_MAX_LORA_RANKS and at least
    ``trainer.lora.r``; no ``modules_to_save`` ("vLLM only supports modules_to_save being None",
    vllm/lora/peft_helper.py). ``where``: the config key holding ``max_lora_rank``. Raises PadaError."""
    if trainer.mode != "lora":
        return
    rank, modules = int(trainer.lora.r), list(trainer.lora.modules_to_save or [])
    if max_lora_rank not in VLLM_MAX_LORA_RANKS:
        raise PadaError(
            f"{where}={max_lora_rank!r}: vLLM accepts only {', '.join(map(str, VLLM_MAX_LORA_RANKS))}"
        )
    if rank > int(max_lora_rank):
        fits = next((r for r in VLLM_MAX_LORA_RANKS if r >= rank), None)
        fix = f"set {where}={fits}" if fits else f"vLLM's largest is {VLLM_MAX_LORA_RANKS[-1]}: choose"
        raise PadaError(
            f"trainer.lora.r={rank} is above {where}={max_lora_rank}: vLLM would refuse the adapter at the "
            f"first evaluation, after training; {fix} or a smaller trainer.lora.r"
        )
    if modules:
        raise PadaError(
            f"trainer.lora.modules_to_save={modules}: vLLM loads only LoRA weights (vllm#9280) and would refuse "
            "the adapter at the first evaluation, after training; set trainer.lora.modules_to_save=[] or eval=transformers"
        )
