"""Test-wide settings: one thread (the CI machine has 2 cores and busy threads slow torch badly)."""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def requires(program: str):
    """Skip marker for tests that need a Debian program (installed by scripts/setup.sh)."""
    return pytest.mark.skipif(shutil.which(program) is None, reason=f"{program} not installed (run scripts/setup.sh)")
