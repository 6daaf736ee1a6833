# Entry points: `make run`, `make test` and `make test-fast`. All create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch 2.13.0 is pinned so pip picks the CPU build when one is on the machine's wheel path.
TORCH_PIN ?= torch==2.13.0
CHROMIUM := /usr/bin/chromium

.PHONY: run test test-fast venv chromium clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

venv: $(VENV)/.installed

run: $(VENV)/.installed
	$(PY) launch.py

# The browser tests drive Debian's chromium. When it is missing and we are root with apt-get, install it
# (quietly); otherwise (or if that fails) the browser tests are skipped with the reason in the summary,
# unless CI=true, where they fail.
chromium:
	@if [ ! -e $(CHROMIUM) ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "could not install chromium: the browser tests will not run"; \
	fi

test: $(VENV)/.installed chromium
	$(PY) -m pytest -q -ra

# Everything but the long trainings and the browser tests.
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -ra -m "not slow and not browser"

clean:
	rm -rf $(VENV) .pytest_cache
