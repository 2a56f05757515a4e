#!/usr/bin/env bash
# Build llama.cpp's own HTTP server (`llama-server`, tools/server) once, from the llama.cpp that the pinned
# llama-cpp-python sdist vendors, and link it into the venv as .venv/bin/llama-server (teacher=local_llamaserver,
# pada/teacher/llama_server.py). The binary is cached under
# $PADA_BIN_CACHE/llama-server-<version>-<hash of the build flags>/ (default ~/.cache/pada/bin): every later
# install, CI's included, takes a second. CI does not need it: the tests that serve it skip when it is absent.
# Usage: scripts/install_llama_server.sh [PYTHON]   (default .venv/bin/python)
#   LLAMA_SERVER_BUILD=DIR: adopt a CMake build dir of the same sdist built with exactly FLAGS (checked in its
#   CMakeCache.txt) instead of building again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
VERSION=$(sed -n 's/^llama-cpp-python==//p' requirements-teacher.lock.txt)
SDIST_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e  # llama_cpp_python-0.3.36.tar.gz on PyPI
# scripts/install_llama_cpp.sh's portable x86-64-v3 flags, plus: a static binary (no shared libs to find at
# run time), no OpenSSL (127.0.0.1 only), no prebuilt web UI, no tests or examples (a third of the build).
FLAGS="-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BLAS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DBUILD_SHARED_LIBS=OFF"
KEY=$(printf '%s %s' "$VERSION" "$FLAGS" | sha256sum | cut -c1-12)
CACHE=${PADA_BIN_CACHE:-$HOME/.cache/pada/bin}
DIR=$CACHE/llama-server-$VERSION-$KEY

built_with_flags() {  # every -DNAME=VALUE of FLAGS is in the build dir's CMakeCache.txt
  local flag name value
  for flag in $FLAGS; do
    flag=${flag#-D} name=${flag%%=*} value=${flag#*=}
    grep -q "^$name:[A-Z]*=$value\$" "$1/CMakeCache.txt" || { echo "$1: $name is not $value" >&2; return 1; }
  done
}

build() {  # $1: an empty work dir; leaves $1/build/bin/llama-server
  local sdist=$CACHE/src/llama_cpp_python-$VERSION.tar.gz
  mkdir -p "$1"
  if [ ! -f "$sdist" ]; then  # pip, the ordinary client, fetches the sdist once (it also installs build deps)
    mkdir -p "$CACHE/src"
    "$PY" -m pip download --quiet --no-deps --no-binary :all: -d "$CACHE/src" "llama-cpp-python==$VERSION"
  fi
  echo "$SDIST_SHA256  $sdist" | sha256sum -c --quiet - || { echo "pada: error: $sdist: wrong sha256" >&2; exit 2; }
  tar xzf "$sdist" -C "$1"
  local src=$1/llama_cpp_python-$VERSION/vendor/llama.cpp
  # shellcheck disable=SC2086  # FLAGS is a list of words
  cmake -S "$src" -B "$1/build" $FLAGS >"$1/configure.log"
  cmake --build "$1/build" --target llama-server -j "${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" >"$1/build.log"
}

if [ ! -x "$DIR/llama-server" ]; then
  rm -rf "$DIR.tmp" && mkdir -p "$DIR.tmp"
  if [ -n "${LLAMA_SERVER_BUILD:-}" ]; then
    grep -q "^Version: $VERSION\$" "$LLAMA_SERVER_BUILD/../../../PKG-INFO" && built_with_flags "$LLAMA_SERVER_BUILD" \
      || { echo "pada: error: $LLAMA_SERVER_BUILD is not llama-cpp-python $VERSION's llama.cpp built with: $FLAGS" >&2; exit 2; }
    cp "$LLAMA_SERVER_BUILD/bin/llama-server" "$DIR.tmp/"
    echo "adopted $LLAMA_SERVER_BUILD/bin/llama-server (same sdist, same flags)" >&2
  else
    echo "building llama-server from llama-cpp-python $VERSION's llama.cpp once into $DIR" >&2
    start=$(date +%s)
    build "$DIR.tmp/work"
    mv "$DIR.tmp/work/build/bin/llama-server" "$DIR.tmp/" && rm -rf "$DIR.tmp/work"
    echo "built in $(($(date +%s) - start)) s" >&2
  fi
  echo "$FLAGS" >"$DIR.tmp/FLAGS"
  rm -rf "$DIR" && mv "$DIR.tmp" "$DIR" # a build cut short never looks finished
fi
ln -sf "$DIR/llama-server" "$(dirname "$PY")/llama-server"
"$(dirname "$PY")/llama-server" --version 2>&1 | grep -E "^version|^built" | tr '\n' ' '
echo "llama-server ready: $(dirname "$PY")/llama-server"
