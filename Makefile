# The two commands: `make run` (the platform) and `make test` (the whole suite).
PYTHON := .venv/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: run test lint format setup bench messages

run: setup
	$(PYTHON) scripts/run_platform.py

# Test modules run in parallel, whole modules at a time (--dist loadfile keeps a module's
# fixtures, such as the role matrix's world, built once), the longest first; a few long
# independent tests are units of their own (tests/scheduling.py). Three workers on the 2-core
# machine: much of the suite waits on a Celery worker, Chromium or a model subprocess,
# so a third process fills that idle time. PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 3

test:
	scripts/bootstrap.sh --browser
	$(PYTHON) -m studies.library fetch
	$(PYTHON) -m zoo fetch
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

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

# Extract the interface's strings into every language's .po (docs/i18n.md), then compile.
messages: setup
	$(PYTHON) -c 'from config.i18n import MAKEMESSAGES_IGNORE as I; print(" ".join("--ignore=" + p for p in I))' \
	  | xargs $(PYTHON) manage.py makemessages --all --no-obsolete
	$(PYTHON) manage.py compilemessages --ignore=".venv/*" --ignore="node_modules/*"
