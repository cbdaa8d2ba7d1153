# qmark: `make run` starts the service on the example organisation; `make test` runs every check.
# Both set up what is missing on a fresh Debian-like machine (system packages via apt when root).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: run test lint typecheck unit clean

run: $(STAMP)
	@deploy/scripts/system-deps.sh run
	@deploy/scripts/dev-redis.sh
	$(BIN)/qmark db upgrade
	exec $(BIN)/qmark run

test: $(STAMP)
	@deploy/scripts/system-deps.sh test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q

$(STAMP): pyproject.toml
	@PY=$$(deploy/scripts/find-python.sh) && echo "using $$PY ($$($$PY --version))" && \
	  { [ -x $(BIN)/python ] || $$PY -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
