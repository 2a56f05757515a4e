#!/usr/bin/env bash
# Install llama-cpp-python with its OpenAI-compatible server (the teacher-llamacpp extra) into a venv, building
# its wheel only once: PyPI ships no binary wheel for Linux x86_64, so pip would compile llama.cpp on every
# install (~7 min on 2 idle cores, 35 at load 10). The wheel is cached under
# $PADA_WHEEL_CACHE/llama-cpp-python-<version>-<hash of the build flags>/ (default ~/.cache/pada/wheels) and
# every later install, CI's included, takes seconds from there.
# Usage: scripts/install_llama_cpp.sh [PYTHON]   (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
LOCK=requirements-teacher.lock.txt
VERSION=$(sed -n 's/^llama-cpp-python==//p' "$LOCK")
# Portable x86-64 (AVX2/FMA/F16C, the x86-64-v3 level, not -march=native): the cached wheel runs on any
# such CPU, not only the one that built it. No BLAS (ggml's own kernels are faster for 1-token decoding),
# no curl (pada never downloads weights at run time).
FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BLAS=OFF -DLLAMA_CURL=OFF"
KEY=$(printf '%s %s' "$VERSION" "$FLAGS" | sha256sum | cut -c1-12)
DIR=${PADA_WHEEL_CACHE:-$HOME/.cache/pada/wheels}/llama-cpp-python-$VERSION-$KEY
if ! compgen -G "$DIR/llama_cpp_python-$VERSION-*.whl" >/dev/null; then
  echo "building llama-cpp-python $VERSION once into $DIR (~7 min on 2 idle cores)" >&2
  mkdir -p "$DIR.tmp"
  start=$(date +%s)
  CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
    "$PY" -m pip wheel --quiet --no-deps --no-binary llama-cpp-python -w "$DIR.tmp" "llama-cpp-python==$VERSION"
  rm -rf "$DIR" && mv "$DIR.tmp" "$DIR"  # a build cut short never looks finished
  echo "built in $(( $(date +%s) - start )) s: $(ls "$DIR")" >&2
fi
# The lock pins the server's own dependencies; the CPU lock holds everything already installed in place.
"$PY" -m pip install --quiet --find-links "$DIR" -r "$LOCK" -c requirements-cpu.lock.txt -c requirements-dev.lock.txt
"$PY" -c "import llama_cpp, sse_starlette; print('llama-cpp-python', llama_cpp.__version__, 'ready')"
