# The two commands: `make run` (demo on SQLite) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv migrate demo clean translations

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## Start the demo: migrate the SQLite database, load demo data once, serve on :8080.
run: $(STAMP)
	VB_STAFF_MFA=$${VB_STAFF_MFA:-optional} $(BIN)/vbostotte serve --demo

## Run the whole test suite (SQLite; and PostgreSQL too when VB_TEST_DATABASE_URL is set).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

migrate: $(STAMP)
	$(BIN)/vbostotte migrate

## Re-extract the message catalogue after changing user-facing text.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o vbostotte/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i vbostotte/translations/messages.pot -d vbostotte/translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) data
