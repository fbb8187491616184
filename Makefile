# The two commands of the quick start: `make demo` and `make test`.
# Both set up what is missing first (scripts/setup.sh).
.PHONY: setup demo test test-fast docs bench clean

VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo-cycle

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/bin/zonepaper demo $(DEMO_DIR)

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

docs: setup  # rewrite the generated parts of docs/reference.md (commands, fields)
	$(VENV)/bin/cog -r docs/reference.md

bench: setup
	$(PY) scripts/bench_forms.py
	$(PY) scripts/bench_ingest.py
	$(PY) scripts/bench_review.py
	$(PY) scripts/bench_stations.py
	$(PY) scripts/bench_ingest.py --cluster local:2
	$(PY) scripts/bench_keyboard.py
	$(PY) -m pip install --quiet matching  # for the comparison only; not a dependency of zonepaper
	$(PY) scripts/bench_draw.py
	$(PY) scripts/bench_paper.py

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
