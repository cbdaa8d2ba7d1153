# qmark: `make run` starts the service on the example organisation; `make test` runs every check.
# Both set up what is missing on a fresh Debian-like machine (system packages via apt when root).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# import-linter lives in a venv of its own: its dependencies (rich) would otherwise be imported
# by structlog in every qmark process of `make run`. It reads the sources; PYTHONPATH finds them.
LINT := .venv-lint
IMPORT_LINTER := import-linter==2.17
LINT_STAMP := $(LINT)/.installed-import-linter-2.17

.PHONY: run test lint typecheck unit clean

run: $(STAMP)
	@deploy/scripts/system-deps.sh run
	@deploy/scripts/dev-redis.sh
	$(BIN)/qmark db upgrade
	exec $(BIN)/qmark run

test: $(STAMP) $(LINT_STAMP)
	@deploy/scripts/system-deps.sh test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PYTHONPATH=. $(LINT)/bin/lint-imports
	$(BIN)/pytest -q

$(STAMP): pyproject.toml
	@PY=$$(deploy/scripts/find-python.sh) && echo "using $$PY ($$($$PY --version))" && \
	  { [ -x $(BIN)/python ] || $$PY -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

$(LINT_STAMP):
	@PY=$$(deploy/scripts/find-python.sh) && { [ -x $(LINT)/bin/python ] || $$PY -m venv $(LINT); }
	$(LINT)/bin/python -m pip install -q $(IMPORT_LINTER)
	@rm -f $(LINT)/.installed-* && touch $@

clean:
	rm -rf $(VENV) $(LINT) var .pytest_cache .mypy_cache .ruff_cache
