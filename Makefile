# The README's commands. Everything the project needs is installed from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench lint format system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

## run: install, migrate, load the examples and start web + worker + scheduler
run: $(VENV)/.runtime-installed
	$(BIN)/python -m mge_site.launcher

## test: install dev deps and run lint + every test (PostgreSQL and Redis on 127.0.0.1)
test: $(VENV)/.dev-installed system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

## system-deps: Debian packages the tests drive: chromium (Playwright's browser, not its
## own download) and prometheus (promtool checks the alert rules)
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "Not installed and cannot install here:$$missing (their tests are skipped; under CI=true they fail)"; \
	  fi; \
	fi

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var

## bench: every benchmark in benchmarks/, one figure per line (PostgreSQL + Redis on 127.0.0.1)
bench: $(VENV)/.dev-installed
	@for script in benchmarks/*.py; do echo "# $$script"; $(BIN)/python $$script || exit 1; done
