# The two commands: `make run` (demo on SQLite) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format venv migrate demo clean translations

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## Start the demo: migrate the SQLite database, load demo data once, serve on :8080.
run: $(STAMP)
	VB_STAFF_MFA=$${VB_STAFF_MFA:-optional} $(BIN)/vbostotte serve --demo

## Run the whole test suite (SQLite; and PostgreSQL too when VB_TEST_DATABASE_URL is set) in TEST_WORKERS
## processes (pytest-xdist; each has its own databases). A test file runs whole in one worker (--dist loadfile),
## so a module-scoped fixture is set up once. `make test TEST_WORKERS=0` runs the suite in this one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25 $(PYTEST_ARGS)

## The style CI holds: ruff's lint (with import order) and format check, the types of the product code (mypy,
## [tool.mypy] in pyproject.toml) and the import contracts (import-linter, [tool.importlinter] in pyproject.toml).
## `make format` fixes what it can.
CODE := vbostotte signaling tests bench server.py
lint: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

format: $(STAMP)
	$(BIN)/ruff check --fix $(CODE)
	$(BIN)/ruff format $(CODE)

migrate: $(STAMP)
	$(BIN)/vbostotte migrate

## Re-extract the message catalogue after changing user-facing text.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o vbostotte/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i vbostotte/translations/messages.pot -d vbostotte/translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) data
