# glacier-tasks: `make demo` shows the whole job on a local S3 server; `make test` tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install test demo bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

test: install
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/python demo/demo.py

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) demo/work .pytest_cache
