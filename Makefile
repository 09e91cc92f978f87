# The two commands: `make run` (the platform) and `make test` (the whole suite).
PYTHON := .venv/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: run test lint format setup bench

run: setup
	$(PYTHON) scripts/run_platform.py

test:
	scripts/bootstrap.sh --browser
	$(PYTHON) -m studies.library fetch
	$(PYTHON) -m zoo fetch
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint: setup
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .
	.venv/bin/lint-imports  # the layers and "services never import tasks" (pyproject.toml)

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

setup:
	scripts/bootstrap.sh

bench: setup
	$(PYTHON) bench/lab_roundtrip.py
