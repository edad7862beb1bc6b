# Teilhabe Warehouse: every entry point a user needs. Only python3 and git are assumed.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
RUN := $(VENV)/bin/teilhabe
# Whether the caller named the data home: a run on a real drop folder (INBOX=) without it is
# refused by `teilhabe run` unless ./data already holds a warehouse (an onboarding review: the
# default below let it take a real inbox into a new, empty warehouse in ./data).
HOME_NAMED := $(filter-out undefined,$(origin TEILHABE_HOME))
export TEILHABE_HOME ?= $(CURDIR)/data
export UV_PYTHON_DOWNLOADS := never
export DAGSTER_HOME ?= $(TEILHABE_HOME)/dagster
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
# INBOX=dir runs on an existing drop folder; without it, a demo inbox is simulated.
INBOX ?=
# PORT=3001 serves the Dagster UI of `make dev` on another port.
PORT ?= 3000
# SCENARIOS="demo nrw-1y" picks benchmark scenarios (default: all; the NRW ones take ~20 minutes).
SCENARIOS ?=

.PHONY: help setup run test dev lint format docs bench pictures clean

help:
	@echo "make run    - set up, simulate a demo inbox (unless INBOX=dir), run the whole pipeline"
	@echo "make test   - set up and run the whole test suite"
	@echo "make dev    - the Dagster UI (dagster dev) on http://127.0.0.1:3000 (PORT=3001 for another)"
	@echo "make bench  - the benchmark (SCENARIOS=\"demo nrw-1y ...\"); results in data/bench/results"
	@echo "make lint   - ruff (with complexity rules) and sqlfluff (dbt templater)"
	@echo "make pictures - the README's report pictures from the data home of make run (needs chromium)"

# uv itself is installed into a private venv from PyPI, pinned; everything else comes from uv.lock.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set (many container images set it)
# every process would otherwise compile Dagster, GX, dbt and Splink from source at each start
# (measured: Great Expectations' import 9.3 -> 4.5 s, the Dagster code location 12.8 -> 6.1 s).
# The project itself is built again each time: uv's cache keeps its editable build by content, not
# by folder, and a checkout elsewhere (a git worktree, a second clone) got another folder's code.
$(VENV)/.synced: pyproject.toml uv.lock Makefile | $(UV)
	@echo "setting up the environment from uv.lock (.venv)"
	@$(UV) sync --frozen --quiet --compile-bytecode --reinstall-package teilhabe-warehouse --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced

# The data home is made private from the start (privacy.md §2: no "made private" warning), except
# where the run is to refuse a real drop folder without a named data home.
UNNAMED_INBOX_RUN := $(and $(INBOX),$(if $(HOME_NAMED),,yes))
run: setup
	$(if $(UNNAMED_INBOX_RUN),,@mkdir -p -m 700 "$(TEILHABE_HOME)")
	$(if $(UNNAMED_INBOX_RUN),env -u TEILHABE_HOME )$(RUN) run $(if $(INBOX),--inbox "$(INBOX)",--demo)

test: setup
	$(VENV)/bin/pytest

dev: setup
	$(RUN) dev --port $(PORT)

bench: setup
	$(RUN) bench $(foreach scenario,$(SCENARIOS),--scenario $(scenario))

# The README's pictures of the reports: LWL, Jobcenter Hagen, NRW inklusiv, as `make run` left them.
pictures:
	@for partner in lwl jobcenter_05914 nrw_inklusiv; do \
	    page="$$(ls -d "$(TEILHABE_HOME)"/outbox/$$partner/*/latest | tail -1)/bericht.html"; \
	    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1500 \
	        --screenshot="docs/bericht_$$partner.png" "file://$$(realpath "$$page")" 2>/dev/null \
	        && echo "docs/bericht_$$partner.png"; \
	done

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# The dbt templater compiles every model as dbt does (macros included); no warehouse is opened.
	@# Its own target folder: in dbt_project/target its manifest (of a partial parse) replaced the
	@# pipeline's, whose fingerprints then called incremental models changed (orchestration/refresh.py).
	TEILHABE_WAREHOUSE=:memory: DBT_TARGET_PATH=target-lint $(VENV)/bin/sqlfluff lint dbt_project/models

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The docs keep their own dbt state (target/docs): a partial parse written here, for this project
# path and profile, never reaches the pipeline's runs (their state lives in the data home).
DBT_DOCS := --project-dir $(CURDIR)/dbt_project --profiles-dir $(CURDIR)/dbt_project --target-path target/docs
docs: setup
	@mkdir -p -m 700 "$(TEILHABE_HOME)"  # private from the start (privacy.md §2): no "made private" warning
	TEILHABE_WAREHOUSE="$(TEILHABE_HOME)/warehouse.duckdb" $(VENV)/bin/dbt docs generate $(DBT_DOCS)
	@echo "open dbt_project/target/docs/index.html (or: .venv/bin/dbt docs serve $(DBT_DOCS))"

clean:
	rm -rf $(VENV) $(TOOLS) dbt_project/target dbt_project/logs
