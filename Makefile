# The README's commands. Everything the project needs is installed from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JS := acceptance/js
DEPS_JS := execution/dependencies/js

.PHONY: run test bench lint format system-deps sandbox-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

# Vitest, for the generated TypeScript/JavaScript acceptance tests: `npm ci` again only when
# the lock file changes. Without npm those tests report that Node.js is missing.
$(JS)/node_modules/.installed: $(JS)/package.json $(JS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd $(JS) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
	  echo "npm not found: TypeScript/JavaScript acceptance tests cannot run (install Node.js >= 20.19)"; \
	fi

# The TypeScript compiler (5.9) whose resolution is the dependency analysis' ground truth,
# and dependency-cruiser, its benchmark baseline. Without npm, --validate says so.
$(DEPS_JS)/node_modules/.installed: $(DEPS_JS)/package.json $(DEPS_JS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd $(DEPS_JS) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
	  echo "npm not found: mge deps --validate cannot ask the TypeScript compiler"; \
	fi

## run: install, migrate, load the examples and start web + worker + scheduler
run: $(VENV)/.runtime-installed $(JS)/node_modules/.installed sandbox-deps
	$(BIN)/python -m mge_site.launcher

## sandbox-deps: bubblewrap, the sandbox of the acceptance tests (without it, and without
## unshare, test runs are refused and say so)
sandbox-deps:
	@if ! command -v bwrap >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian package: bubblewrap"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null; \
	fi

## test: install dev deps and run lint, types and every test (PostgreSQL and Redis on 127.0.0.1)
test: $(VENV)/.dev-installed $(JS)/node_modules/.installed $(DEPS_JS)/node_modules/.installed system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python -m pytest

## system-deps: Debian packages the tests drive: chromium (Playwright's browser, not its
## own download), prometheus (promtool checks the alert rules) and bubblewrap (the
## acceptance tests' sandbox)
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
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
	$(BIN)/mypy .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var $(JS)/node_modules $(DEPS_JS)/node_modules

## bench: every benchmark in benchmarks/, one figure per line (PostgreSQL + Redis on 127.0.0.1)
bench: $(VENV)/.dev-installed $(DEPS_JS)/node_modules/.installed
	@for script in benchmarks/*.py; do echo "# $$script"; $(BIN)/python $$script || exit 1; done
