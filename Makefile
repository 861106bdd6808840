# Two commands for a fresh clone: `make run` and `make test`. Both set up first if needed.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WORK := work
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER := 0
export RAY_AUTH_MODE := disabled
export TORCH_EXTENSIONS_DIR := $(CURDIR)/.torch_extensions
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE := 1

.PHONY: setup browser test run models bench lint faults clean

setup: $(STAMP)

# torch first, pinned (an unpinned torch pulls a multi-GB CUDA build), then the
# rest in ONE resolve. deepspeed ships only an sdist whose setup imports torch,
# hence --no-build-isolation.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=23.2" setuptools wheel
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet --no-build-isolation -e ".[dev]"
	touch $(STAMP)

# The report's browser test needs Debian's chromium; without it that test is skipped with a message.
browser:
	@infra/install_chromium.sh >/dev/null || echo "make: no chromium installed; the report's browser test will be skipped"

test: setup browser
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check va_gpt jobs schemas tests
	$(BIN)/ruff format --check va_gpt jobs schemas tests

run: setup
	$(BIN)/python -u -m va_gpt.cli demo --work $(WORK)

# Rebuild the committed demo checkpoint (models/demo: fixed seeds, float16, model card); `make run`
# uses it instead of training (about 3.5 hours here on two cores: encoder 10-15 minutes, classifier about
# 155 with its 2216 videos rendered, VA-GPT about 48).
# `make models REUSE_ENCODER=1` keeps the committed encoder when its recipe is unchanged;
# `REUSE_CLASSIFIER=1` keeps the encoder and the classifier and trains only the VA-GPT;
# `RECALIBRATE=1` only calibrates the committed classifier's interval settings again on the recipe's
# validation videos and measures its test videos again (about 15 minutes from nothing, weights kept).
models: setup
	$(BIN)/python -u -m va_gpt.cli demo --build-models models/demo $(if $(REUSE_ENCODER),--reuse-encoder) $(if $(REUSE_CLASSIFIER),--reuse-classifier) $(if $(RECALIBRATE),--recalibrate)

bench: setup
	$(BIN)/python -u jobs/bench.py --work $(WORK)/bench

faults: setup
	$(BIN)/python -u jobs/faults.py --work $(WORK)/faults

clean:
	rm -rf $(WORK) .pytest_cache
