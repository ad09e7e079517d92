# The two commands of the README, plus the checks CI runs. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/complaintflow demo

test: $(INSTALLED)
	$(VENV)/bin/pytest

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

bench: $(INSTALLED)
	$(VENV)/bin/complaintflow bench

clean:
	-$(VENV)/bin/complaintflow stack down
	-$(VENV)/bin/complaintflow stack down --state-dir .stack-demo
	rm -rf $(VENV) .stack .stack-demo
