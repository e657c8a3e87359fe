# glacier-tasks: `make demo` shows the whole job on a local S3 server; `make test` tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install test test-moto test-localstack demo bench drills clean

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

# LocalStack's S3 in a venv of its own: it needs Python 3.13+ (the project: 3.11+).
# The pins keep its dependencies at versions it runs with.
LOCALSTACK_VENV := .venv-localstack
LOCALSTACK_PINS := 'localstack-core[base-runtime]==2026.3.0' 'cbor2<6' 'pyopenssl<26' \
	'cryptography<47' service_identity
PYTHON313 ?= $(shell for p in python3.13 python3.14 python3 \
	$$HOME/.pyenv/versions/3.1[3-9]*/bin/python /root/.pyenv/versions/3.1[3-9]*/bin/python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys, venv; \
	sys.exit(sys.version_info < (3, 13))' 2>/dev/null && { command -v $$p; break; }; done)

# the whole suite on moto, then the S3-heavy files on LocalStack's S3, which refuses
# what AWS refuses (wrong checksums, deleting a locked object) and where the strict_s3
# tests run (README, "Testing against a strict S3")
test: test-moto test-localstack

test-moto: install
	S3_SERVER=moto $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

LOCALSTACK_TESTS := tests/test_store.py tests/test_hardening.py tests/test_prune.py \
	tests/e2e/test_write_once.py tests/e2e/test_object_lock.py tests/e2e/test_backup.py \
	tests/e2e/test_restore.py tests/e2e/test_restore_resume.py tests/e2e/test_setup.py \
	tests/e2e/test_lifecycle.py tests/e2e/test_add_only_attacks.py \
	tests/e2e/test_pipeline.py tests/e2e/test_adopt_planted.py tests/e2e/test_strict_s3.py \
	tests/e2e/test_increments.py tests/e2e/test_attack_inc_i.py

test-localstack: install $(LOCALSTACK_VENV)/.installed
	S3_SERVER=localstack LOCALSTACK_PYTHON=$(CURDIR)/$(LOCALSTACK_VENV)/bin/python \
		$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal $(LOCALSTACK_TESTS)

$(LOCALSTACK_VENV)/.installed: Makefile
	@test -n "$(PYTHON313)" || { echo "make: LocalStack needs Python 3.13+ (with venv); none found on PATH or in ~/.pyenv/versions" >&2; exit 1; }
	$(PYTHON313) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/pip install --quiet --upgrade pip
	$(LOCALSTACK_VENV)/bin/pip install --quiet $(LOCALSTACK_PINS)
	touch $@

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
	rm -rf $(VENV) $(LOCALSTACK_VENV) demo/work .pytest_cache
