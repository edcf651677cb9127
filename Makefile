# Two verbs a newcomer needs, each installing what it needs on first use:
#   make run   – synthetic prefecture in, reports and ledgers out
#   make test  – the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean-data

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/analysis run --scale yuxi --seed 2020

# The tests also check the Spark backend against DuckDB (the optional spark extra).
$(VENV)/.installed-spark: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $@

# The screenshot test looks at the reports in headless Chromium (Debian's
# chromium-headless-shell), installed here when the machine allows it; otherwise that test
# says it could not look.
test: $(VENV)/.installed-spark
	@command -v chromium-headless-shell >/dev/null 2>&1 || command -v chromium >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    apt-get update -qq >/dev/null 2>&1 && \
	    apt-get install -y -qq chromium-headless-shell >/dev/null 2>&1; } || \
	  echo "note: headless Chromium could not be installed; the screenshot test will be skipped"
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_synth.py
	$(BIN)/analysis run --scale yuxi --seed 2020
	$(BIN)/python benchmarks/bench_clean.py --data-dir data
	$(BIN)/python benchmarks/bench_link.py --data-dir data
	$(BIN)/python benchmarks/bench_model.py --data-dir data
	$(BIN)/python benchmarks/bench_effects.py --data-dir data
	$(BIN)/python benchmarks/bench_report.py --data-dir data

clean-data:
	rm -rf data/raw data/truth data/interim data/processed
