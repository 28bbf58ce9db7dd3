# The two commands: `make run` (the bot on the console) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint servers bench clean

run: $(STAMP)
	$(BIN)/univac $(if $(CONFIG),--config $(CONFIG))

test: $(STAMP) servers
	$(BIN)/ruff check .
	scripts/run-tests $(BIN)/python

lint: $(STAMP)
	$(BIN)/ruff check .

servers:
	@scripts/install-test-servers

bench: $(STAMP)
	$(BIN)/python benchmarks/dispatch.py

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
