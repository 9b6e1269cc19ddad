"""The ``skaudio-ad`` command line, end to end in subprocesses and in-process via ``main``.

Kept fast: 1 s clips at 16 kHz, a tiny network trained for 3 epochs.
"""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import skaudio_ad
from skaudio_ad._cli import main
from skaudio_ad.datasets import make_machine_sounds
from skaudio_ad.io import load_audio

SR = 16000
TINY = ["--epochs", "3", "--latent-dim", "4", "--hidden-channels", "8", "--patch-frames", "8",
        "--seed", "0"]
REPO_ROOT = Path(__file__).resolve().parents[1]


def _run(*args):
    """``python -m skaudio_ad ARGS`` in a subprocess, from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "skaudio_ad", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


def _write(path, y, sr=SR, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr, **kwargs)
    return path


def _noise(seconds=1.0, seed=0):
    # Loud white noise: unlike any fan, an anomaly for any model trained on fans.
    return 0.5 * np.random.default_rng(seed).standard_normal(round(seconds * SR))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    X, _ = make_machine_sounds(18, 0, machine="fan", duration=1.0, random_state=0)
    X_anom, _ = make_machine_sounds(0, 3, machine="fan", duration=1.0, random_state=1)
    train = [_write(root / "train" / f"normal_{i:02d}.wav", x) for i, x in enumerate(X[:12])]
    good = [_write(root / "good" / f"normal_{i:02d}.wav", x) for i, x in enumerate(X[12:15])]
    normal = [_write(root / "normal" / f"n{i}.wav", x) for i, x in enumerate(X[15:])]
    anomalous = [_write(root / "anomaly" / f"a{i}.flac", x) for i, x in enumerate(X_anom)]
    anomalous.append(_write(root / "anomaly" / "noise.wav", _noise()))
    noise = _write(root / "noise" / "noise.wav", _noise(seed=1))

    bad = root / "bad"
    for path in good:
        _write(bad / path.name, sf.read(path)[0])
    import librosa

    stereo = librosa.resample(X[12].astype(np.float64), orig_sr=SR, target_sr=44100)
    _write(bad / "stereo_44k.wav", np.stack([stereo, 0.5 * stereo], axis=1), sr=44100)
    broken = {
        "corrupt.wav": lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(200))),
        "empty.wav": lambda p: p.write_bytes(b""),
        "notes.wav": lambda p: p.write_text("these are not the samples you are looking for\n"),
        "short.wav": lambda p: _write(p, X[0][: round(0.05 * SR)]),
        "nan.wav": lambda p: _write(p, np.where(np.arange(SR) == 100, np.nan, X[1]),
                                    subtype="FLOAT"),
    }
    for name, make in broken.items():
        make(bad / name)
    return dict(root=root, train=train, good=good, normal=normal, anomalous=anomalous,
                noise=noise, bad=bad, broken=sorted(broken))


@pytest.fixture(scope="module")
def fitted(data):
    """A model fitted by ``skaudio-ad fit`` in a subprocess (the end-to-end path)."""
    model = data["root"] / "model.skops"
    result = _run("fit", data["root"] / "train", "-o", model, *TINY)
    return model, result


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def _error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("skaudio-ad:")]


def test_fit_end_to_end(fitted):
    model, result = fitted
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Trained on 12 clips" in result.stdout and f"Saved model to {model}" in result.stdout
    pipeline = skaudio_ad.load(model)
    assert isinstance(pipeline, Pipeline)
    assert pipeline["detector"].latent_dim == 4 and pipeline["detector"].max_epochs == 3


def test_score_reports_each_bad_file_once_and_scores_the_rest(fitted, data):
    model, _ = fitted
    result = _run("score", model, data["bad"])  # progress bars on, as a user sees it
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    rows = _rows(result.stdout)
    scored = sorted(Path(row["path"]).name for row in rows)
    assert scored == sorted([p.name for p in data["good"]] + ["stereo_44k.wav"])
    errors = _error_lines(result.stderr)
    for name in data["broken"]:
        naming = [line for line in errors if name in line]
        assert len(naming) == 1, (name, result.stderr)
    assert len(errors) == len(data["broken"])
    assert "too short" in next(line for line in errors if "short.wav" in line)
    assert "NaN" in next(line for line in errors if "nan.wav" in line)


def test_scores_match_python(fitted, data, capsys):
    model, _ = fitted
    assert main(["score", str(model), str(data["root"] / "good"), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == ""  # --quiet: no progress bars, and nothing went wrong
    rows = _rows(out)
    assert [row["path"] for row in rows] == [str(p) for p in data["good"]]
    pipeline = skaudio_ad.load(model)
    expected = pipeline.score_samples(load_audio(data["good"]))
    np.testing.assert_array_equal([float(row["score"]) for row in rows], expected)
    decision = expected - pipeline["detector"].offset_
    np.testing.assert_array_equal([float(row["decision"]) for row in rows], decision)
    assert [row["anomaly"] for row in rows] == ["yes" if d < 0 else "no" for d in decision]


def test_output_csv_and_json(fitted, data, tmp_path, capsys):
    model, _ = fitted
    inputs = [str(data["root"] / "good"), str(data["noise"])]
    for name in ("s.csv", "s.json"):
        argv = ["score", str(model), *inputs, "--quiet", "--output", str(tmp_path / name)]
        assert main(argv) == 0
    assert capsys.readouterr().out == ""
    rows = _rows((tmp_path / "s.csv").read_text())
    records = json.loads((tmp_path / "s.json").read_text())
    assert list(rows[0]) == ["path", "score", "decision", "anomaly"]
    assert [r["path"] for r in records] == [r["path"] for r in rows] == (
        [str(p) for p in data["good"]] + [str(data["noise"])]
    )
    for row, record in zip(rows, records, strict=True):
        assert set(record) == {"path", "score", "decision", "anomaly"}
        assert float(row["score"]) == record["score"]
        assert float(row["decision"]) == record["decision"]
        assert record["anomaly"] is (row["anomaly"] == "yes") is (record["decision"] < 0)
    assert records[-1]["anomaly"] is True  # the white noise

    assert main(["score", str(model), *inputs, "--output", str(tmp_path / "s.txt")]) == 2
    assert "--output must end in .csv or .json" in capsys.readouterr().err


def test_fail_on_anomaly_exit_status(fitted, data, capsys):
    model, _ = fitted
    assert main(["score", str(model), str(data["noise"]), "--quiet"]) == 0
    assert main(["score", str(model), str(data["noise"]), "--quiet", "--fail-on-anomaly"]) == 1
    main(["score", str(model), *map(str, data["train"]), "--quiet"])
    normal = [r["path"] for r in _rows(capsys.readouterr().out) if r["anomaly"] == "no"]
    assert normal, "no training clip scored normal"
    assert main(["score", str(model), normal[0], "--quiet", "--fail-on-anomaly"]) == 0
    # Failed inputs win over the anomaly: the run is incomplete.
    bad = str(data["bad"] / "notes.wav")
    assert main(["score", str(model), str(data["noise"]), bad, "--fail-on-anomaly",
                 "--quiet"]) == 2


def test_user_errors_are_one_line_without_traceback(data, tmp_path):
    result = _run("score", tmp_path / "missing.skops", data["noise"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"skaudio-ad: error: model file '{tmp_path / 'missing.skops'}' does not exist."
    ]
    assert result.stdout == ""


@pytest.mark.parametrize("argv, message", [
    (["fit"], "the following arguments are required"),
    (["frobnicate"], "invalid choice"),
    (["fit", "x.wav", "-o", "m.skops", "--epochs", "0"], "expected a value > 0"),
    (["fit", "x.wav", "-o", "m.skops", "--channel", "left"], "channel number >= 0 or 'mean'"),
    (["fit", "x.wav", "-o", "m.skops", "--validation-fraction", "1"], "< 1"),
    (["fit", "x.wav", "-o", "m.skops", "--target", "idnn"], "invalid choice: 'idnn'"),
])
def test_bad_arguments(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("skaudio-ad: error:")
    assert message in err


def test_help_and_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"skaudio-ad {skaudio_ad.__version__}"
    for command in ([], ["demo"], ["fit"], ["score"], ["evaluate"]):
        assert main([*command, "--help"]) == 0
        assert "usage: skaudio-ad" in capsys.readouterr().out


def test_untrusted_and_unusable_model_files(data, tmp_path, capsys):
    custom = Pipeline([("f", FunctionTransformer(_identity))])
    with pytest.warns(UserWarning):
        skaudio_ad.save(custom.fit(np.ones((2, 2))), tmp_path / "custom.skops")
    (tmp_path / "text.skops").write_text("hello")
    detector = skaudio_ad.load(data["root"] / "model.skops")["detector"]
    skaudio_ad.save(detector, tmp_path / "bare.skops")
    for name, expected in [("custom.skops", "--trust TYPE"), ("text.skops", "not a skaudio_ad"),
                           ("bare.skops", "not a fitted Pipeline")]:
        assert main(["score", str(tmp_path / name), str(data["noise"]), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and expected in err, err


def _identity(X):
    return X


def test_fit_skips_unreadable_files(data, tmp_path, capsys):
    model = tmp_path / "model.skops"
    bad = [str(data["bad"] / name) for name in data["broken"]]
    argv = ["fit", str(data["root"] / "train"), *bad, "-o", str(model), *TINY, "--quiet"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "Trained on 12 clips" in out and "skipped 5 unusable" in out
    for path in bad:
        assert sum(path in line for line in err.splitlines()) == 1, err
    assert model.exists()

    assert main(["fit", *bad, "-o", str(tmp_path / "none.skops"), "--quiet"]) == 2
    assert "no usable training file" in capsys.readouterr().err
    assert not (tmp_path / "none.skops").exists()


def test_fit_unequal_lengths_needs_duration(data, tmp_path, capsys):
    folder = tmp_path / "mixed"
    for path in data["train"][:4]:
        _write(folder / path.name, sf.read(path)[0])
    _write(folder / "long.wav", np.tile(sf.read(data["train"][4])[0], 2))
    # Shorter than one analysis window (n_fft = 1024 samples).
    _write(folder / "tiny.wav", sf.read(data["train"][6])[0][:300])
    model = tmp_path / "model.skops"
    assert main(["fit", str(folder), "-o", str(model), *TINY, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "different lengths" in err and "--duration" in err
    assert "tiny.wav" in err and "too short" in err  # without --duration nothing pads it
    assert main(["fit", str(folder), "-o", str(model), *TINY, "--quiet", "--duration", "1"]) == 0
    # With --duration every file is zero-padded, as the transformer does: none skipped.
    assert "Trained on 6 clips" in capsys.readouterr().out
    # The model crops and pads to its duration, so 0.5 s and 300-sample files are scored too.
    half = _write(tmp_path / "half.wav", sf.read(data["train"][5])[0][: SR // 2])
    tiny = folder / "tiny.wav"
    assert main(["score", str(model), str(half), str(tiny), "--quiet"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [row["path"] for row in rows] == [str(half), str(tiny)]
    expected = skaudio_ad.load(model).score_samples(
        load_audio([half, tiny], duration=1.0))
    np.testing.assert_array_equal([float(row["score"]) for row in rows], expected)


def test_evaluate_normal_and_anomaly_folders(fitted, data, tmp_path, capsys):
    model, _ = fitted
    out = tmp_path / "plots"
    argv = ["evaluate", str(model), "--normal", str(data["root"] / "normal"),
            str(data["root"] / "good"), "--anomaly", str(data["root"] / "anomaly"),
            "--out", str(out), "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    for label in ("ROC AUC", "partial AUC", "F1", "balanced accuracy", "Confusion matrix",
                  "true normal", "true anomaly", "6 normal + 4 anomalous clips"):
        assert label in text, text
    pngs = sorted(p.name for p in out.iterdir())
    assert pngs == ["frame_errors.png", "roc.png", "score_distributions.png",
                    "spectrograms.png"]
    for png in out.iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_evaluate_dcase_layout(fitted, data, tmp_path, capsys):
    model, _ = fitted
    test = tmp_path / "dev_data" / "fan" / "test"
    for i, path in enumerate(data["normal"] + data["good"]):
        _write(test / f"normal_id_00_{i:08d}.wav", sf.read(path)[0])
    for i, path in enumerate(data["anomalous"]):
        _write(test / f"anomaly_id_00_{i:08d}.wav", sf.read(path)[0])
    assert main(["evaluate", str(model), "--dcase", str(tmp_path), "--machine", "fan",
                 "--quiet"]) == 0
    assert "6 normal + 4 anomalous clips" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--normal", "x"], "--normal and --anomaly go together"),
    (["--mimii", "x"], "need --machine"),
    (["--mimii", "x", "--dcase", "y", "--machine", "fan"], "exactly one of"),
    ([], "exactly one of"),
])
def test_evaluate_argument_errors(fitted, argv, message, capsys):
    model, _ = fitted
    assert main(["evaluate", str(model), *argv]) == 2
    assert message in capsys.readouterr().err


def test_demo_quick(tmp_path):
    out = tmp_path / "demo"
    result = _run("demo", "--quick", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for label in ("ROC AUC", "partial AUC", "F1", "balanced accuracy", "Confusion matrix",
                  f"Plots saved in {out}", "model.skops"):
        assert label in result.stdout, result.stdout
    # stderr is a pipe here, as from cron: no progress bars (they are for terminals).
    assert "epochs" not in result.stderr and "\r" not in result.stderr, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "frame_errors.png", "model.skops", "roc.png", "score_distributions.png",
        "spectrograms.png",
    ]
    assert isinstance(skaudio_ad.load(out / "model.skops"), Pipeline)


def test_fit_target_and_loss_options_reach_the_detector():
    from skaudio_ad._cli import _parser
    from skaudio_ad._cli.fit import build_pipeline

    for argv, target in ([[], "reconstruction"], [["--target", "interpolation"], "interpolation"]):
        args = _parser().parse_args(["fit", "x.wav", "-o", "m.skops", *argv])
        assert build_pipeline(args, verbose=0)["detector"].target == target
    for argv, loss in ([[], "mse"], [["--loss", "gaussian"], "gaussian"]):
        args = _parser().parse_args(["fit", "x.wav", "-o", "m.skops", *argv])
        assert build_pipeline(args, verbose=0)["detector"].loss == loss


def test_fit_is_reproducible_without_a_seed_option(data, tmp_path):
    # From cron, the same folder must give the same model: --seed defaults to 0, not None.
    from skaudio_ad._cli import _parser
    from skaudio_ad._cli.fit import build_pipeline

    for argv, seed in ([[], 0], [["--seed", "3"], 3]):
        args = _parser().parse_args(["fit", "x.wav", "-o", "m.skops", *argv])
        assert build_pipeline(args, verbose=0)["detector"].random_state == seed
    unseeded = TINY[: TINY.index("--seed")]
    scores = []
    for name in ("a.skops", "b.skops"):
        argv = ["fit", str(data["root"] / "train"), "-o", str(tmp_path / name), *unseeded]
        assert main([*argv, "--quiet"]) == 0
        pipeline = skaudio_ad.load(tmp_path / name)
        scores.append([pipeline["detector"].offset_, *pipeline.score_samples(data["normal"])])
    np.testing.assert_array_equal(scores[0], scores[1])


@pytest.mark.parametrize("terminal, quiet, expected", [
    (True, False, False), (True, True, True), (False, False, True), (None, False, True),
])
def test_progress_bars_only_on_a_terminal(terminal, quiet, expected, monkeypatch):
    import argparse

    from skaudio_ad._cli._common import prepare

    class Stderr(io.StringIO):
        def isatty(self):
            if terminal is None:
                raise ValueError("I/O operation on closed file")
            return terminal

    monkeypatch.setattr(sys, "stderr", Stderr())
    args = argparse.Namespace(quiet=quiet, no_cache=True)
    prepare(args)
    assert args.quiet is expected
