"""Shared fixtures: the real recordings in ``../shared/data``, skipped cleanly when absent."""

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

#: One JAX compilation cache for every process of the session, set before JAX is imported:
#: this one, the loky and Dask workers, the subprocesses (through the environment). A worker
#: then loads the tiny networks this process compiled instead of compiling them again
#: (tests/test_fleet.py, test_scale.py and test_model_selection.py: 149 s -> 119 s on 2
#: cores). A fixture would come too late: collecting the test modules imports JAX. The
#: command line's own cache (``SKAUDIO_AD_CACHE_DIR``, below) overrides it in the CLI's
#: subprocesses; ``without_session_jax_cache`` gives a subprocess a plain user's environment.
SESSION_JAX_CACHE = {}
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    SESSION_JAX_CACHE = {
        "JAX_COMPILATION_CACHE_DIR": tempfile.mkdtemp(prefix="skaudio-ad-tests-jax-"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    os.environ.update(SESSION_JAX_CACHE)
    atexit.register(shutil.rmtree, SESSION_JAX_CACHE["JAX_COMPILATION_CACHE_DIR"], True)


def without_session_jax_cache(env):
    """``env`` without the session's JAX cache variables (a plain user's environment)."""
    return {k: v for k, v in env.items() if SESSION_JAX_CACHE.get(k) != v}


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


@pytest.fixture(scope="session", autouse=True)
def _compilation_cache_in_tmp(tmp_path_factory):
    """The command line's JAX compilation cache goes to a temporary folder, not the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SKAUDIO_AD_CACHE_DIR", str(tmp_path_factory.mktemp("jax-cache")))
        yield


def popen_interruptible(*args, **kwargs):
    """``subprocess.Popen`` whose child gets the default Ctrl-C, for tests that send SIGINT.

    A child inherits an *ignored* SIGINT, and the signal mask, across exec: ignored, Python
    never raises KeyboardInterrupt; blocked, the signal never arrives. A library loaded
    earlier in the test session may have left either so in this process.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        return subprocess.Popen(*args, **kwargs)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(signal.SIGINT, previous)
