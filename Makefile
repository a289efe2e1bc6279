# Two commands a newcomer needs: `make demo` runs the product, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= deploy/demo.toml

.PHONY: demo test lint bench venv clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/callboard --config $(CONFIG) demo

# scripts/test-env installs (as root) and starts what the suite needs, then runs it
test: venv
	scripts/test-env sh -c '$(VENV)/bin/ruff check . && $(VENV)/bin/mypy && $(PY) -m pytest'

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: venv
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf var test-artifacts .pytest_cache
