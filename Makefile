# Two verbs a newcomer needs, each installing what it needs on first use:
#   make run   – synthetic prefecture in, summary (later: reports) out
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

test: $(VENV)/.installed-spark
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

clean-data:
	rm -rf data/raw data/truth data/interim data/processed
