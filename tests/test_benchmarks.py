"""Smoke tests of the benchmark scripts: ``benchmarks/mimii.py`` end to end on a tiny MIMII tree.

Kept fast: 1 s clips, 2 epochs. ``speed.py --quick`` takes minutes, so its smoke test is
marked ``slow``.
"""

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from skaudio_ad.datasets import make_machine_sounds

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO_ROOT / "benchmarks"
SR = 16000


def _module(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    saved = list(sys.path)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


def _write_clips(folder, X):
    folder.mkdir(parents=True, exist_ok=True)
    for i, x in enumerate(X):
        sf.write(folder / f"{i:08d}.wav", x, SR)


@pytest.fixture(scope="module")
def mimii_tree(tmp_path_factory):
    """``6_dB_fan/fan/id_00``: 8 normal + 3 abnormal clips; id_02: 3 + 3 (no training normal
    under the baseline split); and a background folder of pump sounds."""
    root = tmp_path_factory.mktemp("mimii")
    normal, _ = make_machine_sounds(11, 0, machine="fan", duration=1.0, random_state=0)
    abnormal, _ = make_machine_sounds(0, 6, machine="fan", duration=1.0, random_state=1)
    base = root / "6_dB_fan" / "fan"
    _write_clips(base / "id_00" / "normal", normal[:8])
    _write_clips(base / "id_00" / "abnormal", abnormal[:3])
    _write_clips(base / "id_02" / "normal", normal[8:])
    _write_clips(base / "id_02" / "abnormal", abnormal[3:])
    background, _ = make_machine_sounds(3, 0, machine="pump", duration=1.5, random_state=2)
    _write_clips(root / "background" / "pump", background)
    return root


def _run_mimii(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / "mimii.py"), *map(str, args)],
        capture_output=True, text=True, env=env, timeout=300, cwd=REPO_ROOT,
    )


def _rows(out):
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_mimii_quick_writes_results_and_resumes(mimii_tree, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--root", mimii_tree, "--dataset", "mimii", "--ids", "id_00",
            "--quick", "--max-epochs", "2", "--out", out]
    result = _run_mimii(*args)
    assert result.returncode == 0, result.stderr
    rows = _rows(out)
    mimii = _module("mimii")
    assert list(rows[0]) == mimii.COLUMNS
    assert [r["system"] for r in rows] == ["conv_ae", "dense_ae", "iforest"]
    for row in rows:
        assert (row["machine_type"], row["machine_id"], row["snr_db"]) == ("fan", "id_00", "6")
        assert row["split"] == "MIMII baseline split"
        assert (row["n_train"], row["n_test_normal"], row["n_test_anomalous"]) == ("5", "3", "3")
        assert 0.0 <= float(row["auc"]) <= 1.0 and 0.0 <= float(row["balanced_accuracy"]) <= 1.0
        assert float(row["fit_seconds"]) > 0 and row["condition"] == "clean"
    markdown = (out / "results.md").read_text()
    assert "| machine | SNR | ids | conv_ae AUC |" in markdown
    assert "| fan | 6 dB | 1 |" in markdown and "0.920" in markdown  # published, 6 dB fan
    assert "--max-epochs 2" in markdown
    assert {p.name for p in out.glob("*.png")} == {
        "roc_clean_fan.png", "scores_clean_fan.png", "spectrograms_clean_fan.png"}

    # Re-running skips the finished rows (in-process from here on: the same main, less startup).
    mimii.main([*map(str, args)])
    assert "already in results.csv" in capsys.readouterr().out
    assert _rows(out) == rows

    # Real background mixed in: new rows under their own condition, the clean ones kept.
    mimii.main([*map(str, args), "--no-plots", "--mix-background",
                str(mimii_tree / "background"), "--mix-snr", "-6"])
    rows_after = _rows(out)
    assert rows_after[:3] == rows
    assert [r["condition"] for r in rows_after[3:]] == ["mix -6 dB"] * 3
    assert all(r["background"] == str(mimii_tree / "background") for r in rows_after[3:])
    assert "## mix -6 dB" in (out / "results.md").read_text()

    # Other settings into the same folder are refused rather than mixed up.
    with pytest.raises(SystemExit, match="other settings"):
        mimii.main([*map(str, args[:-4]), "--max-epochs", "3", "--out", str(out)])


def test_mimii_fallback_split_is_announced(mimii_tree):
    mimii = _module("mimii")
    notes = []
    jobs = mimii.mimii_jobs(mimii_tree, None, None, None, notes)
    by_id = {job.ids[0]: job for job in jobs}
    assert by_id["id_00"].split == "MIMII baseline split"
    assert len(by_id["id_00"].train) == 5
    # id_02 has 3 normals and 3 abnormal clips: the baseline split trains on none.
    fallback = by_id["id_02"]
    assert fallback.split.startswith("fallback")
    assert [Path(p).name for p in fallback.train] == ["00000000.wav"]
    assert fallback.y_test.tolist() == [1, 1, 1, 0, 0]
    assert any("FALLBACK" in note and "id_02" in note for note in notes)


def test_background_mixer_excludes_own_machine_and_sets_level(mimii_tree, tmp_path):
    mimii = _module("mimii")
    job = mimii.mimii_jobs(mimii_tree, ["fan"], None, ["id_00"], [])[0]
    # A "fan" folder under the background root must not be used as background for fans.
    root = tmp_path / "bg"
    for machine in ("fan", "pump"):
        X, _ = make_machine_sounds(2, 0, machine=machine, duration=1.0, random_state=3)
        _write_clips(root / machine, X)
    mixer = mimii.BackgroundMixer(root, -6.0, job, seed=0)
    pool = [*mixer.pools["train"], *mixer.pools["test"]]
    assert sorted(p.parent.name for p in pool) == ["pump", "pump"]
    assert not set(mixer.pools["train"]) & set(mixer.pools["test"])
    X = np.random.default_rng(0).normal(size=(2, SR)).astype(np.float32)
    added = mixer.mix(X, "train") - X
    # Each clip's background at -6 dB below that clip's mean power (mix_background's SNR).
    ratio = np.mean(X.astype(np.float64) ** 2, axis=1) / np.mean(
        added.astype(np.float64) ** 2, axis=1)
    np.testing.assert_allclose(10 * np.log10(ratio), -6.0, atol=1e-2)


def test_dense_baseline_follows_the_outlier_contract():
    baselines = _module("_baselines")
    rng = np.random.default_rng(0)
    X = rng.normal(-40.0, 3.0, size=(20, 8, 12)).astype(np.float32)
    model = baselines.DenseAutoencoderBaseline(
        hidden_units=8, latent_dim=2, batch_size=32, max_epochs=2, random_state=0).fit(X)
    scores = model.score_samples(X)
    assert scores.dtype == np.float64 and scores.shape == (20,)
    np.testing.assert_allclose(model.decision_function(X), scores - model.offset_)
    assert set(np.unique(model.predict(np.concatenate([X, X + 30.0])))) == {-1, 1}
    assert len(model.validation_indices_) == 2 and model.n_epochs_ == 2
    again = baselines.DenseAutoencoderBaseline(
        hidden_units=8, latent_dim=2, batch_size=32, max_epochs=2, random_state=0).fit(X)
    np.testing.assert_array_equal(again.score_samples(X), scores)
    np.testing.assert_array_equal(model.score_samples(X[:3]), scores[:3])


@pytest.mark.slow
def test_speed_quick_runs(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = tmp_path / "speed.md"
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "speed.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=900, cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    for heading in ("Machine", "Features", "Training", "Scoring", "Peak memory", "Scaling"):
        assert f"## {heading}" in text
