# Two commands matter: `make sprintNN` (run a sprint's notebooks) and `make test`.
# Both create the virtual environment in .venv the first time and reuse it after.
PROFILE ?= auto
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PROFILE
# Quiet, offline-safe defaults for every command below.
export TOKENIZERS_PARALLELISM ?= false
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: help env test lint pairs sync bench bench-quick clean

help:
	@echo "make sprint10|sprint11|sprint12|sprint13 [PROFILE=tiny|full|auto] [MODEL=..] [DATA_DIR=..]"
	@echo "make test      ruff + unit tests + pair check + every notebook under nbval (PROFILE=tiny)"
	@echo "make bench     the training-engine benchmark (results/bench/)"
	@echo "make sync      jupytext --sync every notebook pair after editing a .py"

# The environment: rebuilt only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@echo "== creating the environment in $(VENV) (first run only; torch==2.13.0 CPU build)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)
	@echo "== environment ready"

env: $(STAMP)
	@echo "== environment in $(VENV) is up to date"

# make sprint10 -> runs sprints/sprint10_*/NN_*.py in order as notebooks.
sprint%: $(STAMP)
	@folder=$$(ls -d sprints/sprint$*_* 2>/dev/null | head -n1); \
	if [ -z "$$folder" ]; then echo "no folder sprints/sprint$*_*"; exit 2; fi; \
	$(BIN)/python -m gpt2ft.notebooks run $$folder

lint: $(STAMP)
	@echo "== ruff check"
	$(BIN)/ruff check shared tests sprints

pairs: $(STAMP)
	@echo "== every .py/.ipynb notebook pair in sync"
	$(BIN)/python -m gpt2ft.notebooks check-pairs sprints

# Unit tests and every notebook (nbval, lax mode) in one pytest run, tiny and offline.
# The notebooks write their tables and checkpoints into a scratch folder, so a
# test run neither changes the committed results nor resumes an earlier run.
TEST_OUT := .cache/test-run
test: lint pairs
	@echo "== unit tests + notebooks under nbval (PROFILE=tiny, HF_HUB_OFFLINE=1, outputs in $(TEST_OUT))"
	rm -rf $(TEST_OUT)
	PROFILE=tiny HF_HUB_OFFLINE=1 RESULTS_DIR=$(CURDIR)/$(TEST_OUT)/results RUNS_DIR=$(CURDIR)/$(TEST_OUT)/runs \
		$(BIN)/pytest --nbval-lax --nbval-current-env --durations=15 tests sprints

sync: $(STAMP)
	$(BIN)/jupytext --sync sprints/*/[0-9][0-9]_*.py

# The training-engine benchmark: ours vs transformers.Trainer side by side, on the
# GPU when there is one (results/bench/<device>.json + .md). bench-quick: CPU, ~1 min.
bench: $(STAMP)
	$(BIN)/python -m gpt2ft.benchmark

bench-quick: $(STAMP)
	$(BIN)/python -m gpt2ft.benchmark --quick

clean:
	rm -rf .cache runs .pytest_cache .ruff_cache
