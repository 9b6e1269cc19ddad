"""Shared fixtures: the real recordings in ``../shared/data``, skipped cleanly when absent."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir():
    env = os.environ.get("SKAUDIO_AD_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """Root of the real MIMII / DCASE samples; skips the test when the folder is absent."""
    root = _shared_data_dir()
    if not (root / "mimii").is_dir() and not (root / "dcase2020").is_dir():
        pytest.skip(f"real recordings not found at {root} (set SKAUDIO_AD_DATA)")
    return root
