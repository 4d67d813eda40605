# csp-guard developer entry points. Every target installs what it needs first.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run demo test browser lint bench clean iac-check package

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## setup: virtualenv, Python packages, Azurite (npm), the cspguard command
setup: $(VENV)/.installed node_modules/.installed

## run: start Azurite, the Partner Center sandbox, the SMTP mailbox and the app on http://127.0.0.1:7071
run: setup
	$(BIN)/python -m devtools.stack run

## demo: start the stack, run one scripted pass, print what happened, stop
demo: setup
	$(BIN)/python -m devtools.stack demo

## test: the whole test suite (unit, integration against Azurite/sandbox/SMTP, end-to-end through the runner,
## the console in headless Chromium), then ruff and mypy, then checkov over the infrastructure templates
test: setup browser
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory iac-check

## browser: Debian's chromium (driven by Playwright, no browser download) and a CJK font for the Chinese pages
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; fi

## lint: ruff and mypy
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy shared functions function_app.py

## bench: every benchmark under bench/, printing its figures
bench: setup
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache

.venv-iac/.installed: requirements-iac.txt
	$(PY) -m venv .venv-iac
	.venv-iac/bin/python -m pip install --quiet -r requirements-iac.txt
	touch $@

## iac-check: checkov over infra/ (offline, own venv .venv-iac); fails on a failed check or a file it cannot parse
iac-check: .venv-iac/.installed
	@out=$$(.venv-iac/bin/checkov -d infra --framework bicep --skip-download --compact 2>&1); rc=$$?; \
	echo "$$out"; \
	if grep -q "Parsing errors: [1-9]" <<<"$$out"; then echo "iac-check: checkov could not parse a template"; exit 1; fi; \
	exit $$rc

## package: build the zip-deploy package for Linux x86_64 / CPython 3.11 into dist/csp-guard.zip
package: setup
	$(BIN)/python -m devtools.package --out dist/csp-guard.zip
