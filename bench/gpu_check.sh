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
  # Pure dependencies the machine may lack: installed from .gpu/wheels only.
  for pair in yaml:PyYAML matplotlib:matplotlib PIL:pillow pytest:pytest six:six filelock:filelock typing_extensions:typing_extensions; do
    module=${pair%%:*}; package=${pair#*:}
    if ! "$py" -c "import $module" 2>/dev/null; then
      echo "gpu_check: installing $package from .gpu/wheels" >&2
      "$py" -m pip install -q --no-index --find-links .gpu/wheels --target "$site" "$package"
    fi
  done
fi
exec "$py" bench/gpu_check.py $dry --out "$out"
