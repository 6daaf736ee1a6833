# Two entry points: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch 2.13.0 is pinned so pip picks the CPU build when one is on the machine's wheel path.
TORCH_PIN ?= torch==2.13.0

.PHONY: run test venv clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

venv: $(VENV)/.installed

run: $(VENV)/.installed
	$(PY) launch.py

test: $(VENV)/.installed
	$(PY) -m pytest -q -ra

clean:
	rm -rf $(VENV) .pytest_cache
