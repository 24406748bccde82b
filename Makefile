# Vecinos: `make run` (try it locally, or run with VECINOS_BOT_TOKEN) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PO := $(wildcard locales/*/LC_MESSAGES/messages.po)
# Test processes: most tests wait on HTTP and databases, so more workers than cores keep the suite short.
TEST_WORKERS ?= 6
MO := $(PO:.po=.mo)

.PHONY: run test lint format locales extract check-catalogs migrate seed bench clean distclean help

help:
	@echo "make run      - run the bot (no VECINOS_BOT_TOKEN: local sandbox with a terminal chat)"
	@echo "make test     - run every test (set VECINOS_TEST_POSTGRES_URL for PostgreSQL)"
	@echo "make lint     - ruff check and format check"
	@echo "make extract  - extract messages and update catalogs"
	@echo "make check-catalogs - every language complete, placeholders, tags, CLDR plurals, glossary, Telegram limits"
	@echo "make bench    - benchmarks (throughput and outbox pacing against the fake Bot API server, STV counting)"
	@echo "make clean    - remove data and caches (var/, the database, compiled catalogs); keeps .venv"
	@echo "make distclean - clean, and remove .venv too"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@ -l $* -D messages

locales: $(MO)

extract: $(STAMP)
	$(BIN)/pybabel extract -F locales/babel.cfg -k N_ -k plain --sort-by-file --no-wrap \
		--project=vecinos --copyright-holder="Vecinos" -o locales/messages.pot .
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-wrap --ignore-obsolete

check-catalogs: $(STAMP)
	$(BIN)/python -m bot.catalog_check

migrate: $(STAMP)
	$(BIN)/vecinos migrate

seed: $(STAMP)
	$(BIN)/vecinos seed

run: $(STAMP) locales
	$(BIN)/vecinos seed
	$(BIN)/vecinos run

test: $(STAMP) locales check-catalogs
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) locales
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/outbox.py
	$(BIN)/python bench/tally.py

clean:
	rm -rf var .pytest_cache .ruff_cache .hypothesis locales/*/LC_MESSAGES/*.mo

distclean: clean
	rm -rf $(VENV)
