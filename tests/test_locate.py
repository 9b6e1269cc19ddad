"""Where in a clip and where in the spectrum: ``error_map``, ``locate_anomalies``, ``--locate``."""

import csv
import io
import json

import numpy as np
import pytest
import soundfile as sf
from scipy.ndimage import uniform_filter1d
from sklearn.pipeline import make_pipeline

from skaudio_ad import (
    AnomalySpan,
    ConvAutoencoderDetector,
    MelSpectrogramTransformer,
    locate_anomalies,
    save,
)
from skaudio_ad._cli import main
from skaudio_ad._locate import _moving_average, span_of
from skaudio_ad._melscale import mel_frequencies
from skaudio_ad.datasets import make_machine_sounds

SR = 8000
PLANT = (1.0, 1.6, 1500.0)  # seconds, seconds, Hz


def _plant(x):
    y = x.copy()
    i0, i1 = int(PLANT[0] * SR), int(PLANT[1] * SR)
    y[i0:i1] += 0.1 * np.sin(2 * np.pi * PLANT[2] * np.arange(i1 - i0) / SR)
    return y


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    X, _ = make_machine_sounds(24, 0, duration=3.0, sr=SR, random_state=0)
    model = make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=128, n_mels=32),
        ConvAutoencoderDetector(patch_frames=16, hidden_channels=16, latent_dim=8,
                                max_epochs=10, validation_fraction=0.25, random_state=0),
    ).fit(X)
    folder = tmp_path_factory.mktemp("locate")
    path = folder / "model.skops"
    save(model, path)
    normal = make_machine_sounds(2, 0, duration=3.0, sr=SR, random_state=7)[0]
    test = np.stack([_plant(normal[0]), normal[1]])
    files = []
    for i, y in enumerate(test):
        files.append(str(folder / f"clip{i}.wav"))
        sf.write(files[-1], y, SR, subtype="FLOAT")
    return {"model": model, "path": str(path), "X": test, "files": files, "folder": folder}


def test_span_of_finds_a_planted_bump():
    n_mels, n_frames, frame_seconds = 20, 200, 0.05
    rng = np.random.default_rng(0)
    error_map = 1.0 + 0.1 * rng.random((n_mels, n_frames))
    error_map[8:11, 60:100] += 5.0  # bins 8-10, frames 60-99 = 3.0-5.0 s
    edges = mel_frequencies(n_mels + 2, fmin=0.0, fmax=4000.0)
    span = span_of(error_map.mean(axis=0), error_map, frame_seconds=frame_seconds,
                   smoothing_frames=1, band_edges=edges)
    assert span.start == pytest.approx(3.0) and span.end == pytest.approx(5.0)
    assert 3.0 <= span.peak_time < 5.0
    assert span.peak_error == pytest.approx(error_map.mean(axis=0)[60:100].max())
    assert span.band_low == pytest.approx((edges[8] + edges[9]) / 2)
    assert span.band_high == pytest.approx((edges[11] + edges[12]) / 2)
    text = span.describe()
    assert text.startswith("unusual energy at ") and "from 3.0 s to 5.0 s" in text
    assert span.to_dict()["summary"] == text


def test_moving_average_is_an_edge_padded_uniform_filter():
    x = np.random.default_rng(1).random(50)
    for size in (1, 3, 7):
        np.testing.assert_allclose(_moving_average(x, size),
                                   uniform_filter1d(x, size, mode="nearest"), rtol=1e-12)


def test_error_map_splits_frame_errors_over_the_mel_bins(fitted):
    model = fitted["model"]
    S = model[:-1].transform(fitted["X"])
    maps = model[-1].error_map(S)
    assert maps.shape == S.shape and maps.dtype == np.float64
    np.testing.assert_allclose(maps.mean(axis=1), model[-1].frame_errors(S), rtol=1e-5)


def test_locate_anomalies_on_a_planted_tone(fitted):
    span, normal = locate_anomalies(fitted["model"], fitted["X"], smoothing=0.25)
    assert isinstance(span, AnomalySpan)
    assert abs(span.start - PLANT[0]) <= 0.25 and abs(span.end - PLANT[1]) <= 0.25
    assert span.band_low <= PLANT[2] <= span.band_high
    assert span.peak_error > normal.peak_error
    with pytest.raises(ValueError, match="smoothing"):
        locate_anomalies(fitted["model"], fitted["X"], smoothing=-1)


def test_score_locate_and_frames(fitted, capsys, tmp_path):
    frames = tmp_path / "frames.csv"
    status = main(["score", fitted["path"], *fitted["files"], "--locate", "--frames",
                   str(frames), "--smoothing", "0.25", "--quiet", "--no-cache"])
    out = capsys.readouterr().out
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["path", "score", "decision", "anomaly", "span_start", "span_end",
                             "peak_time", "peak_error", "band_low_hz", "band_high_hz",
                             "summary"]
    planted = rows[0]
    assert abs(float(planted["span_start"]) - PLANT[0]) <= 0.25
    assert float(planted["band_low_hz"]) <= PLANT[2] <= float(planted["band_high_hz"])
    assert " kHz from " in planted["summary"] or " Hz from " in planted["summary"]
    expected = locate_anomalies(fitted["model"], fitted["X"][:1], smoothing=0.25)[0]
    assert float(planted["span_end"]) == pytest.approx(expected.end)

    lines = list(csv.DictReader(frames.open()))
    assert list(lines[0]) == ["path", "frame", "time", "error"]
    n_frames = fitted["model"][:-1].transform(fitted["X"][:1]).shape[2]
    assert len(lines) == 2 * n_frames
    first = [float(r["error"]) for r in lines if r["path"] == fitted["files"][0]]
    S = fitted["model"][:-1].transform(fitted["X"][:1])
    assert first == pytest.approx(fitted["model"][-1].frame_errors(S)[0].tolist(), rel=1e-6)
    assert float(lines[1]["time"]) == pytest.approx(128 / SR)


def test_score_locate_json(fitted, tmp_path, capsys):
    out = tmp_path / "scores.json"
    assert main(["score", fitted["path"], fitted["files"][0], "--locate", "--output", str(out),
                 "--quiet", "--no-cache"]) == 0
    row = json.loads(out.read_text())[0]
    assert {"span_start", "span_end", "peak_error", "band_low_hz", "summary"} <= set(row)


@pytest.mark.parametrize("frames", ["missing/frames.csv", "frames.txt"])
def test_frames_output_checked_before_work(fitted, capsys, tmp_path, frames):
    status = main(["score", fitted["path"], fitted["files"][0], "--frames",
                   str(tmp_path / frames), "--no-cache"])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "--frames" in captured.err


@pytest.mark.slow
def test_locate_on_a_real_recording(shared_data):
    """DCASE slider: fit on normal training clips, locate in an anomalous test clip."""
    from skaudio_ad.io import load_audio

    root = shared_data / "dcase2020" / "dev_data" / "slider"
    train = sorted((root / "train").glob("normal_id_00_*.wav"))[:24]
    test = sorted((root / "test").glob("anomaly_id_00_*.wav"))[:2]
    if not train or not test:
        pytest.skip("no DCASE slider clips")
    model = make_pipeline(MelSpectrogramTransformer(),
                          ConvAutoencoderDetector(max_epochs=10, random_state=0))
    model.fit(load_audio([str(p) for p in train]))
    spans = locate_anomalies(model, load_audio([str(p) for p in test]))
    for span in spans:
        assert 0 <= span.start < span.end <= 10.0
        assert 0 <= span.band_low < span.band_high <= 8000


def test_locate_with_a_fleet_is_refused_before_work(tmp_path, capsys):
    from skaudio_ad import PerMachineDetector

    X, _ = make_machine_sounds(8, 0, duration=0.5, sr=8000, random_state=0)
    fleet = PerMachineDetector(make_pipeline(
        MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=16),
        ConvAutoencoderDetector(patch_frames=8, hidden_channels=8, max_epochs=1,
                                validation_fraction=0.5, random_state=0)))
    fleet.fit(X, machine_ids=["a"] * 4 + ["b"] * 4)
    save(fleet, tmp_path / "fleet.skops")
    for command in (["score", str(tmp_path / "fleet.skops"), str(tmp_path), "--locate"],
                    ["monitor", str(tmp_path / "fleet.skops"), "-"]):
        assert main([*command, "--no-cache"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and "fleet" in err and len(err.strip().splitlines()) == 1
