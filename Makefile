# glacier-tasks: `make demo` shows the whole job on a local S3 server; `make test` tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install test demo bench drills clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# parallel workers, more than the cores: most of a test's time is spent waiting on the
# S3 server, doit and tar subprocesses. Each worker has its own S3 server, buckets, temp
# folders and free ports (tests/conftest.py). worksteal: the long e2e tests end together.
TEST_WORKERS ?= 4

test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

demo: install
	$(BIN)/python demo/demo.py

# the reliability drills at soak length: more kills, more fault seeds (docs/reliability.md)
drills: install
	GLACIER_DRILL_KILLS=20 GLACIER_DRILL_SEEDS=1,2,3,4,5 $(BIN)/python -m pytest -q -s \
		tests/e2e/test_drill_kill.py tests/e2e/test_drill_network.py \
		tests/e2e/test_hostile_trees.py

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) demo/work .pytest_cache
