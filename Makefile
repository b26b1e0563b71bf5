# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make demo   the main job (CPU demo)
#   make test   the test suite (what CI runs through .ci/run)
# Each builds the project's own environment on first use. Any current
# CPython works: `make test-fast PYTHON=python3.13` builds .venv-3.13.

PYTHON ?= python3.11
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
# numpy 1.26 has wheels for Python 3.11 and 3.12 only; newer Pythons run
# numpy 2 (chainer through fasterrcnn/_compat.py).
NUMPY_REQ := $(if $(filter 3.11 3.12,$(PY_VERSION)),requirements/numpy1.txt,requirements/numpy2.txt)
VENV := $(if $(filter 3.11,$(PY_VERSION)),.venv,.venv-$(PY_VERSION))
VENV_NP2 := .venv-np2
WHEELS := .wheels
PY := $(VENV)/bin/python
PY_NP2 := $(VENV_NP2)/bin/python
PYTEST_ARGS ?=
# The newest CPython, for a fast run of the suite in `make test` when found.
NEWEST_PYTHON ?= python3.13

.PHONY: venv venv-np2 venv-torch test test-fast test-np2 test-newest lint \
	demo bench compare gpu-check gpu-wheels clean mpi

venv: $(VENV)/.ready
venv-np2: $(VENV_NP2)/.ready

# chainer 7.8.1 is an sdist whose build needs pkg_resources: build its wheel
# once with setuptools < 82 in the build environment, then install offline.
$(WHEELS)/.ready: requirements/build-constraints.txt
	@mkdir -p $(WHEELS)
	PIP_CONSTRAINT=$(CURDIR)/requirements/build-constraints.txt \
	  $(PYTHON) -m pip wheel -q --no-deps -w $(WHEELS) chainer==7.8.1
	@touch $@

$(VENV)/.ready: requirements/base.txt $(NUMPY_REQ) requirements/mpi.txt requirements/tensorboard.txt requirements/coco.txt $(WHEELS)/.ready setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --find-links $(WHEELS) -r $(NUMPY_REQ) -r requirements/mpi.txt -r requirements/tensorboard.txt -r requirements/coco.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

# mpi4py and MPICH (PyPI wheels) into an environment made before they were
# part of it: multi-process training with --communicator under mpiexec.
mpi: $(VENV)/.ready
	$(PY) -m pip install -q -r requirements/mpi.txt

# numpy 2 beside the main environment, with torch's CPU build for the .pth
# tests: how the code runs on the GPU machine.
$(VENV_NP2)/.ready: requirements/base.txt requirements/numpy2.txt requirements/torch-cpu.txt $(WHEELS)/.ready setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV_NP2)
	$(PY_NP2) -m pip install -q --find-links $(WHEELS) -r requirements/numpy2.txt -r requirements/torch-cpu.txt
	$(PY_NP2) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

# torch, torchvision and scikit-image (several GB) beside the project: runs
# the PyTorch version (compare dump-torch / live) and bench/'s torch columns.
VENV_TORCH := .venv-torch
venv-torch: $(VENV_TORCH)/.ready
$(VENV_TORCH)/.ready: requirements/base.txt requirements/numpy1.txt requirements/torch.txt $(WHEELS)/.ready setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV_TORCH)
	$(VENV_TORCH)/bin/python -m pip install -q --find-links $(WHEELS) -r requirements/numpy1.txt -r requirements/torch.txt
	$(VENV_TORCH)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

# The whole suite, the fast tests under numpy 2, lint, and the fast tests
# under the newest CPython when this machine has it.
# The numpy 2 and newest-Python runs leave out the `e2e` tests too: tiny
# trainings whose code paths the fast tests already take there.
REPEAT_MARK := not slow and not e2e
FAST_MARK ?= not slow

test: $(VENV)/.ready $(VENV_NP2)/.ready
	$(PY) -m pytest $(PYTEST_ARGS)
	$(PY_NP2) -m pytest -m "$(REPEAT_MARK)" $(PYTEST_ARGS)
	$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory test-newest FAST_MARK="$(REPEAT_MARK)"

test-fast: $(VENV)/.ready
	$(PY) -m pytest -m "$(FAST_MARK)" $(PYTEST_ARGS)

test-np2: $(VENV_NP2)/.ready
	$(PY_NP2) -m pytest -m "not slow" $(PYTEST_ARGS)

test-newest:
	@if $(NEWEST_PYTHON) --version >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory test-fast PYTHON=$(NEWEST_PYTHON); \
	else \
	  echo "$(NEWEST_PYTHON) not found: the fast tests under it were not run"; \
	fi

# flake8, isort and the layer rules of ARCHITECTURE.md (import-linter),
# all configured in setup.cfg.
lint: $(VENV)/.ready
	$(PY) -m flake8
	$(PY) -m isort --check-only --diff .
	$(VENV)/bin/lint-imports --no-cache

demo: $(VENV)/.ready
	$(PY) -m fasterrcnn.demo

bench: $(VENV)/.ready
	$(PY) bench/ops.py

compare: $(VENV)/.ready
	$(PY) -m fasterrcnn.interop.compare golden tests/data/golden/sfr_seed0.npz tests/data/golden/sfr_seed1.npz tests/data/golden/sfr_seed2_steps.npz tests/data/golden/sfr_seed2_f64.npz

# Every GPU check in one run (bench/gpu_check.py): on the lent CUDA machine
# `make gpu-check OUT=DIR`; here `make gpu-check DRY_RUN=1` (CPU, tiny sizes).
OUT ?= gpu_check_out
gpu-check: $(if $(DRY_RUN),$(VENV)/.ready)
	bash bench/gpu_check.sh $(if $(DRY_RUN),--dry-run) $(OUT)

# What the CUDA machine (Python 3.12, no network) needs from here, in the
# ignored .gpu/: the chainer wheel and the pure dependencies it may lack.
GPU_PY ?= 3.12
# SFR=PATH: an unmodified checkout of the PyTorch version, carried in .gpu/
# so that the GPU check times it beside ours on the same GPU.
SFR ?=
gpu-wheels: $(WHEELS)/.ready
	rm -rf .gpu/site
	mkdir -p .gpu/wheels
	cp $(WHEELS)/chainer-7.8.1-py3-none-any.whl .gpu/
	$(PYTHON) -m pip download -q --no-deps -d .gpu/wheels --only-binary=:all: \
	  --python-version $(GPU_PY) --platform manylinux2014_x86_64 \
	  --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
	  -r requirements/gpu-machine.txt
	@if [ -n "$(SFR)" ]; then \
	  rm -rf .gpu/simple-faster-rcnn-pytorch; \
	  mkdir -p .gpu/simple-faster-rcnn-pytorch; \
	  (cd "$(SFR)" && tar --exclude=.git -cf - .) | \
	    tar -xf - -C .gpu/simple-faster-rcnn-pytorch; \
	fi

clean:
	rm -rf .venv .venv-* $(WHEELS)
