# The two commands of the README. Each one installs what it needs first (scripts/setup.sh is idempotent).
.PHONY: setup demo demo-quick test test-all

setup:
	bash scripts/setup.sh

demo: setup
	OMP_WAIT_POLICY=PASSIVE .venv/bin/multikd demo

demo-quick: setup
	OMP_WAIT_POLICY=PASSIVE .venv/bin/multikd demo --quick

test: setup
	OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE .venv/bin/python -m pytest -q

test-all: setup
	OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE .venv/bin/python -m pytest -q -m "slow or not slow"
