#!/usr/bin/env bash
# One prepared run of every GPU check (bench/gpu_check.py) on a lent CUDA
# machine: Python with numpy, cupy and torch, no chainer, no network.
#
#   bash bench/gpu_check.sh OUT_DIR            on the CUDA machine
#   bash bench/gpu_check.sh --dry-run OUT_DIR  here, on the CPU, tiny sizes
#
# On the CUDA machine, chainer comes from the wheel in .gpu/ (make gpu-wheels
# puts it there with the wheels of the pure dependencies the machine may
# lack); they are installed into .gpu/site, offline, and put on PYTHONPATH.
set -euo pipefail
cd "$(dirname "$0")/.."
dry=""
if [ "${1:-}" = "--dry-run" ]; then dry="--dry-run"; shift; fi
out="${1:?usage: bench/gpu_check.sh [--dry-run] OUT_DIR}"
mkdir -p "$out"

if [ -n "$dry" ]; then
  py="${PYTHON:-.venv/bin/python}"
else
  py="${PYTHON:-python3}"
  site="$PWD/.gpu/site"
  if [ ! -d "$site/chainer" ]; then
    wheel=$(ls .gpu/chainer-*.whl 2>/dev/null | head -n 1)
    [ -n "$wheel" ] || { echo "gpu_check: no chainer wheel in .gpu/ (run make gpu-wheels here and carry .gpu)" >&2; exit 2; }
    "$py" -m pip install -q --no-index --no-deps --target "$site" "$wheel"
  fi
  export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
  # Pure dependencies the machine may lack: installed from .gpu/wheels only,
  # each without its dependencies (--target does not see the machine's own
  # packages, numpy among them), so every one is listed.
  missing=""
  for pair in yaml:PyYAML matplotlib:matplotlib contourpy:contourpy \
      cycler:cycler fontTools:fonttools kiwisolver:kiwisolver \
      packaging:packaging PIL:pillow pyparsing:pyparsing \
      dateutil:python-dateutil six:six filelock:filelock \
      typing_extensions:typing_extensions pytest:pytest iniconfig:iniconfig \
      pluggy:pluggy pygments:Pygments pydantic:pydantic \
      pydantic_core:pydantic_core annotated_types:annotated-types \
      typing_inspection:typing-inspection tqdm:tqdm; do
    if ! "$py" -c "import ${pair%%:*}" 2>/dev/null; then
      missing="$missing ${pair#*:}"
    fi
  done
  if [ -n "$missing" ]; then
    echo "gpu_check: installing from .gpu/wheels:$missing" >&2
    "$py" -m pip install -q --no-index --no-deps --find-links .gpu/wheels \
      --target "$site" --upgrade $missing
  fi
fi
exec "$py" bench/gpu_check.py $dry --out "$out"
