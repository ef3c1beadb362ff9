# The two commands of the README. Each one installs what it needs first (scripts/setup.sh is idempotent).
.PHONY: setup demo test test-all

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

test: setup
	OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE .venv/bin/python -m pytest -q

test-all: setup
	OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE .venv/bin/python -m pytest -q -m "slow or not slow"
