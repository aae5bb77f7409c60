# Two commands: `make run` (the app with its worker and scheduler) and `make test` (the whole suite).
# The work happens in scripts/dev.py and scripts/test.sh; this file only keeps .venv up to date.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
# First interpreter found that is Python 3.11 or newer (override: make PYTHON=/path/to/python3.12 ...).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)

.PHONY: run test venv

run: venv
	$(PY) scripts/dev.py

# Extra pytest arguments: make test ARGS="-k booking -x"
test: venv
	bash scripts/test.sh $(ARGS)

venv: $(STAMP)

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(PY):
	@test -n "$(PYTHON)" || { echo "Python 3.11+ not found: install python3 (3.11 or newer) and python3-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "venv failed: on Debian/Ubuntu, apt-get install python3-venv"; exit 1; }
