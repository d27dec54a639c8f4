# Two commands for a new user: `make demo` and `make test`.
# Both create ./.venv when missing and (re)install the project when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
DURATION ?=

.PHONY: demo test bench clean chromium promtool

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/churn-alert demo $(if $(DURATION),--duration $(DURATION),)

test: $(STAMP) chromium promtool
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest

# The dashboard's browser test drives Debian's chromium (Playwright's own browser download
# does not work everywhere); installed here when missing, and a clear failure when it cannot be.
chromium:
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium for the dashboard test ..."; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || { echo "cannot install chromium (needs root and apt): run 'apt-get install -y chromium'" >&2; exit 1; }; }

# tests/deploy checks deploy/prometheus with promtool, from Debian's prometheus package
# (installed here when missing; the tests fail, not skip, without it).
promtool:
	@command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; } \
		|| echo "could not install promtool (apt-get install -y prometheus): tests/deploy will fail" >&2

bench: $(STAMP)
	$(VENV)/bin/python bench/quality.py
	$(VENV)/bin/python bench/state_and_sweep.py
	$(VENV)/bin/python bench/throughput.py
	$(VENV)/bin/python bench/floods.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
