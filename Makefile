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

.PHONY: help install system-deps run test lint bench eval clean

help:
	@echo "make run     install, seed the demo shop (first time), start the API on 127.0.0.1:$${REPLYDESK_PORT:-8000}"
	@echo "make test    install and run the whole test suite"
	@echo "make lint    ruff + mypy"
	@echo "make bench   drafting benchmark (10,000 chunks) and index build figures"
	@echo "make eval    replay ../shared/eval/dev_scenarios.jsonl"

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
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

run: install
	@$(BIN)/replydesk demo seed
	@$(BIN)/replydesk serve

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy core knowledge prompts drafter api

bench: install
	$(BIN)/replydesk bench --chunks 10000

eval: install
	$(BIN)/replydesk eval ../shared/eval/dev_scenarios.jsonl --out data/eval/dev_results.jsonl

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache .mypy_cache
