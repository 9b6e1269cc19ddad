"""Fast start: lazy imports, librosa-free defaults, the command line's compilation cache.

Speed itself is measured by benchmarks/startup.py (no timed tests); these tests pin down what
makes it fast: what is (not) imported, and that the cache is used, moved and disabled.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import skaudio_ad
from skaudio_ad._melscale import hann_window, mel_filters

from .conftest import REPO_ROOT, without_session_jax_cache

HEAVY = ["jax", "librosa", "matplotlib", "flax", "skaudio_ad.datasets", "skaudio_ad.plotting",
         "skaudio_ad._cli", "skaudio_ad._detector"]


def _python(code, env=None):
    env = dict(without_session_jax_cache(os.environ if env is None else env),
               PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_is_lazy_and_names_resolve():
    out = _python(
        "import json, sys, skaudio_ad\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "names = {n: type(getattr(skaudio_ad, n)).__name__ for n in skaudio_ad.__all__}\n"
        "from skaudio_ad import ConvAutoencoderDetector, load\n"
        "print(json.dumps([heavy, names, sorted(set(skaudio_ad.__all__) - set(dir(skaudio_ad)))]))"
    )
    heavy, names, missing_from_dir = json.loads(out)
    assert heavy == []
    assert names["ConvAutoencoderDetector"] == "type" and names["datasets"] == "module"
    assert set(names) == set(skaudio_ad.__all__) and missing_from_dir == []


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        skaudio_ad.nope  # noqa: B018


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax",
                         [(16000, 1024, 64, 0.0, 8000.0), (8000, 256, 32, 50.0, 3500.0),
                          (22050, 2048, 128, 0.0, 11025.0), (16000, 512, 40, 300.0, 7000.0)])
def test_mel_filters_equal_librosa(sr, n_fft, n_mels, fmin, fmax):
    librosa = pytest.importorskip("librosa")
    ours, _ = mel_filters(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    np.testing.assert_array_equal(ours, theirs)


def test_empty_mel_filters_warn_like_librosa():
    with pytest.warns(UserWarning, match="Empty filters"):
        mel_filters(sr=8000, n_fft=64, n_mels=128, fmin=0.0, fmax=4000.0)


@pytest.mark.parametrize("win_length, n_fft", [(1024, 1024), (400, 512), (255, 256)])
def test_hann_window_equals_librosa(win_length, n_fft):
    librosa = pytest.importorskip("librosa")
    theirs = librosa.util.pad_center(
        librosa.filters.get_window("hann", win_length, fftbins=True), size=n_fft)
    np.testing.assert_array_equal(hann_window(win_length, n_fft), theirs)


@pytest.fixture(scope="module")
def model_and_file(tmp_path_factory):
    import soundfile as sf
    from sklearn.pipeline import make_pipeline

    from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer, save
    from skaudio_ad.datasets import make_machine_sounds

    folder = tmp_path_factory.mktemp("startup")
    X, _ = make_machine_sounds(6, 0, duration=1.0, sr=8000, random_state=0)
    model = make_pipeline(
        MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=16),
        ConvAutoencoderDetector(patch_frames=8, hidden_channels=8, max_epochs=2,
                                validation_fraction=0.0, random_state=0)).fit(X)
    save(model, folder / "model.skops")
    sf.write(folder / "clip.wav", X[0], 8000, subtype="FLOAT")
    return str(folder / "model.skops"), str(folder / "clip.wav")


def _score_in_subprocess(model, clip, cache_dir, *extra):
    env = dict(os.environ, SKAUDIO_AD_CACHE_DIR=str(cache_dir))
    return json.loads(_python(
        "import contextlib, io, json, sys\n"
        "from skaudio_ad._cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    status = main(['score', {model!r}, {clip!r}, '--quiet', *{list(extra)!r}])\n"
        "import jax\n"
        "print(json.dumps({'status': status, 'out': out.getvalue(),\n"
        "    'loaded': [m for m in ('librosa', 'matplotlib', 'skaudio_ad.datasets',\n"
        "                           'skaudio_ad.plotting', 'numba', 'skops.io')\n"
        "               if m in sys.modules],\n"
        "    'cache_dir': jax.config.jax_compilation_cache_dir}))", env=env))


def test_cli_cache_is_used_moved_and_disabled(model_and_file, tmp_path):
    model, clip = model_and_file
    cold = _score_in_subprocess(model, clip, tmp_path / "cache")
    assert cold["status"] == 0 and cold["cache_dir"] == str(tmp_path / "cache" / "jax")
    entries = sorted(os.listdir(tmp_path / "cache" / "jax"))
    # The scoring functions of _training.inference (which one depends on the evidence).
    assert any(name in e for e in entries for name in ("patch_scores", "patch_frame_errors")), \
        entries
    assert len(os.listdir(tmp_path / "cache" / "models")) == 1
    warm = _score_in_subprocess(model, clip, tmp_path / "cache")
    assert warm["out"] == cold["out"]  # identical scores from the cached executables
    # Scoring pays for neither librosa (numba) nor plotting nor the dataset loaders; the
    # second time not for skops either (the verified model comes from the cache).
    assert cold["loaded"] == ["skops.io"] and warm["loaded"] == []

    off = _score_in_subprocess(model, clip, tmp_path / "other", "--no-cache")
    assert off["cache_dir"] is None and not (tmp_path / "other").exists()
    assert off["out"] == cold["out"]


def test_python_api_leaves_jax_config_alone(model_and_file):
    model, clip = model_and_file
    out = _python(
        "import jax, skaudio_ad\n"
        f"m = skaudio_ad.load({model!r})\n"
        f"m.score_samples(skaudio_ad.io.load_audio([{clip!r}], sr=8000))\n"
        "print(jax.config.jax_compilation_cache_dir)")
    assert out.strip() == "None"


def test_enable_compilation_cache(tmp_path):
    folder = tmp_path / "a" / "b"
    out = _python(
        "import jax, skaudio_ad\n"
        f"print(skaudio_ad.enable_compilation_cache({str(folder)!r}))\n"
        "print(jax.config.jax_compilation_cache_dir)")
    assert out.split() == [str(folder), str(folder)] and folder.is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = (f"import skaudio_ad\ntry:\n    skaudio_ad.enable_compilation_cache({str(blocker)!r})"
            "\nexcept OSError as e:\n    print(e)")
    assert "SKAUDIO_AD_CACHE_DIR" in _python(code)


def test_unwritable_cache_folder_warns_and_scores(model_and_file, tmp_path, monkeypatch, capsys):
    from skaudio_ad._cli import main

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("SKAUDIO_AD_CACHE_DIR", str(blocker))
    model, clip = model_and_file
    assert main(["score", model, clip, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("path,score")
    assert captured.err.count("\n") == 1 and "warning" in captured.err
    assert "SKAUDIO_AD_CACHE_DIR" in captured.err


def test_model_cache_refuses_shared_folders_and_damaged_entries(model_and_file, tmp_path):
    from skaudio_ad._cache import load_model_cached
    from skaudio_ad._persistence import load

    model, clip = model_and_file
    calls = []

    def counting_load(path, trusted=None):
        calls.append(path)
        return load(path, trusted=trusted)

    folder = tmp_path / "models"
    first = load_model_cached(model, None, counting_load, folder=str(folder))
    second = load_model_cached(model, None, counting_load, folder=str(folder))
    assert len(calls) == 1 and second is not first
    assert second.get_params(deep=False).keys() == first.get_params(deep=False).keys()
    np.testing.assert_array_equal(second[-1].offset_, first[-1].offset_)
    # Other trust is another entry.
    load_model_cached(model, ["builtins.dict"], counting_load, folder=str(folder))
    assert len(calls) == 2
    # A damaged entry is ignored and replaced.
    for p in folder.iterdir():
        p.write_bytes(b"not a pickle")
    load_model_cached(model, None, counting_load, folder=str(folder))
    assert len(calls) == 3
    load_model_cached(model, None, counting_load, folder=str(folder))
    assert len(calls) == 3
    # A folder others can write is never read.
    folder.chmod(0o777)
    load_model_cached(model, None, counting_load, folder=str(folder))
    assert len(calls) == 4
