# Set-up and entry points. Every target creates .venv and installs requirements.txt first.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: venv system run test lint bench profile clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed

system:  ## system packages the tests use (sshd for the SSH remote test); root + apt only
	bash scripts/setup_system.sh

run: venv  ## reproduce the whole pipeline (embedded default: offline, CPU)
	dvc repro

test: venv system  ## the test suite (what CI runs)
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check .

profile: venv  ## merge a profile into params.yaml: make profile P=configs/paper.yaml
	$(PY) -m codesift.config $(P)

clean:
	rm -rf $(VENV)
