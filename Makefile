# Two commands for a new user: `make demo` and `make test`.
# Both create ./.venv when missing and (re)install the project when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
DURATION ?=

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/churn-alert demo $(if $(DURATION),--duration $(DURATION),)

test: $(STAMP)
	$(VENV)/bin/python -m pytest

bench: $(STAMP)
	$(VENV)/bin/python bench/quality.py
	$(VENV)/bin/python bench/state_and_sweep.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
