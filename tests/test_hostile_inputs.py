"""Hostile and damaged inputs (issue 15): never a silent or wrong verdict, never a hang.

Every bad input ends in an error naming it: from the Python API a ModelFileError /
AudioReadError, from the command line exit status 2 and one line, no traceback. Damaged model
files are made by tests/damaged_models.py from a good one, never committed as blobs. Kept
fast: the tiny committed model (8 kHz, 0.5 s clips), in-process ``main`` where possible.
"""

import contextlib
import io
import os
import resource
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skaudio_ad
from skaudio_ad._cli import main
from skaudio_ad.exceptions import AudioReadError, ModelFileError
from skaudio_ad.io import find_audio, iter_clips
from tests.conftest import popen_interruptible
from tests.damaged_models import DAMAGES, OVERFLOWING

DATA = Path(__file__).parent / "data"
REPO_ROOT = Path(__file__).resolve().parents[1]
SR = 8000
ONE_GIB_KB = 2**20  # ru_maxrss is in KiB on Linux


@contextlib.contextmanager
def time_limit(seconds):
    """Fail instead of hanging: SIGALRM raises in the main thread after ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _peak_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """The committed tiny model, saved again by this version (public type names)."""
    path = tmp_path_factory.mktemp("model") / "good.skops"
    skaudio_ad.save(skaudio_ad.load(DATA / "model-0.1.skops"), path)
    return path


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("audio") / "clip.wav"
    t = np.arange(SR // 2) / SR
    sf.write(path, 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size), SR)
    return path


@pytest.fixture(scope="module")
def damaged(model_file, tmp_path_factory):
    """``damaged(name)``: the file of that damage, made once per module (the bomb takes s)."""
    folder, made = tmp_path_factory.mktemp("damaged"), {}

    def make(name):
        if name not in made:
            made[name] = DAMAGES[name][0](model_file, folder / f"{name}.skops")
        return made[name]

    return make


def _cli(argv, capsys, seconds=60):
    with time_limit(seconds):
        status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def _one_error_line(err, name):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("skaudio-ad:") and str(name) in lines[0], err
    return lines[0]


# ----------------------------------------------------------------------- model files


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_model_is_a_model_file_error_naming_it(damage, damaged):
    words = DAMAGES[damage][1]
    path = damaged(damage)
    before = _peak_rss_kb()
    with time_limit(60), pytest.raises(ModelFileError) as info:
        skaudio_ad.load(path)
    assert str(path) in str(info.value) and words in str(info.value), info.value
    assert _peak_rss_kb() - before < ONE_GIB_KB


@pytest.mark.parametrize("damage", ["nan_weights", "wrong_shape", "type_split_differently",
                                    "zip_bomb_1gib", "huge_array_header", "bad_mel_parameter"])
def test_damaged_model_through_the_cli_exits_2_with_one_line(damage, damaged, wav, capsys):
    path = damaged(damage)
    status, out, err = _cli(["score", path, wav, "--quiet", "--fail-on-anomaly"], capsys)
    assert status == 2 and out == ""
    _one_error_line(err, path)


def test_model_size_limit_is_configurable(model_file, wav, capsys):
    with pytest.raises(ModelFileError, match="limit for model files"):
        skaudio_ad.load(model_file, max_bytes=10_000)
    status, _, err = _cli(["score", model_file, wav, "--quiet", "--max-model-size", "0.01"],
                          capsys)
    assert status == 2 and "--max-model-size" in _one_error_line(err, model_file)
    assert _cli(["score", model_file, wav, "--quiet"], capsys)[0] == 0


def test_fifo_as_model_or_audio_never_hangs(model_file, wav, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with time_limit(10), pytest.raises(ModelFileError, match="named pipe"):
        skaudio_ad.load(fifo)
    status, _, err = _cli(["score", fifo, wav, "--quiet"], capsys, seconds=10)
    assert status == 2 and "named pipe" in _one_error_line(err, fifo)
    status, out, err = _cli(["score", model_file, fifo, wav, "--quiet"], capsys, seconds=30)
    assert status == 2 and "named pipe" in _one_error_line(err, fifo)
    assert [line.split(",")[0] for line in out.splitlines()] == ["path", str(wav)]


def test_device_as_audio_is_refused_before_reading(model_file, capsys):
    status, out, err = _cli(["score", model_file, "/dev/zero", "--quiet"], capsys, seconds=30)
    assert status == 2 and "not a regular file" in _one_error_line(err, "/dev/zero")


def test_non_finite_score_is_an_error_never_normal(model_file, wav, tmp_path, capsys):
    path = OVERFLOWING(model_file, tmp_path / "overflowing.skops")
    status, out, err = _cli(["score", path, wav, "--quiet", "--fail-on-anomaly"], capsys)
    assert status == 2
    assert out.splitlines() == ["path,score,decision,anomaly"]  # no verdict at all
    line = _one_error_line(err, wav)
    assert "not finite" in line or "non-finite" in line or "NaN" in line


def test_integer_waveforms_scale_as_soundfile_for_the_pipeline(wav):
    model = skaudio_ad.load(DATA / "model-0.1.skops")
    as_int, _ = sf.read(wav, dtype="int16")
    as_float, _ = sf.read(wav, dtype="float32")
    np.testing.assert_allclose(model.score_samples(as_int[None]),
                               model.score_samples(as_float[None]), rtol=1e-4)


# ----------------------------------------------------------------------- audio and folders


def test_symlink_loops_are_reported_named_or_in_folders(model_file, wav, tmp_path, capsys):
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "a.wav").write_bytes(wav.read_bytes())
    (folder / "back").symlink_to(folder)                       # a loop through a folder
    (folder / "self.wav").symlink_to(folder / "self.wav")      # a link to itself
    named = tmp_path / "named.wav"
    named.symlink_to(named)
    problems = []
    found = find_audio([folder, named], on_error=lambda p, reason: problems.append((p, reason)))
    assert found == [str(folder / "a.wav")]
    assert sorted(os.path.basename(p) for p, _ in problems) == ["back", "named.wav", "self.wav"]
    assert all("symbolic link loop" in reason for _, reason in problems)
    status, out, err = _cli(["score", model_file, folder, named, "--quiet"], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 3
    assert len(out.splitlines()) == 2  # the header and a.wav


def test_a_long_file_is_refused_from_its_header(tmp_path, monkeypatch):
    import skaudio_ad.io as sio

    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(SR * 4, dtype=np.int16), SR)
    monkeypatch.setattr(sio, "MAX_DECODED_BYTES", SR * 4)  # 1 s of float32
    with pytest.raises(AudioReadError, match="more than the .* MiB limit"):
        next(iter_clips([path], sr=SR))
    # A fixed duration decodes only what it keeps.
    (chunk,) = iter_clips([path], sr=SR, duration=0.5)
    assert chunk.X.shape == (1, SR // 2)


def test_an_absurd_rate_in_a_header_cannot_blow_up_resampling(wav, tmp_path):
    import struct

    data = bytearray(wav.read_bytes())
    data[24:28] = struct.pack("<I", 1)  # 4000 frames "at 1 Hz": 4000 s at 16 kHz
    path = tmp_path / "slow.wav"
    path.write_bytes(bytes(data))
    with time_limit(30), pytest.raises(AudioReadError, match=r"would last 4000 s.*1 Hz"):
        next(iter_clips([path], sr=16000))


def test_fit_skips_an_unusable_training_file_by_name(tmp_path, capsys):
    folder = tmp_path / "train"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        sf.write(folder / f"n{i}.wav", 0.1 * rng.standard_normal(SR // 2), SR)
    loud = 0.1 * rng.standard_normal(SR // 2)
    loud[100] = 1e30
    sf.write(folder / "loud.wav", loud, SR, subtype="FLOAT")
    model = tmp_path / "m.skops"
    argv = ["fit", folder, "-o", model, "--sr", SR, "--n-mels", 16, "--epochs", 1,
            "--latent-dim", 2, "--hidden-channels", 4, "--patch-frames", 4, "--seed", 0,
            "--validation-fraction", 0.5, "--quiet"]
    status, out, err = _cli(argv, capsys, seconds=120)
    assert status == 0, err
    assert "magnitude 1e+30" in _one_error_line(err, "loud.wav")
    assert "Trained on 4 clips" in out and "skipped 1 unusable" in out
    # One usable clip cannot calibrate a threshold.
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "n0.wav").write_bytes((folder / "n0.wav").read_bytes())
    status, _, err = _cli([*argv[:1], lonely, *argv[2:]], capsys)
    assert status == 2 and "at least 2 clips" in err


def test_outputs_are_checked_before_any_work(model_file, wav, tmp_path, capsys):
    missing = tmp_path / "no" / "such"
    for argv in (["score", tmp_path / "absent.skops", wav, "--output", missing / "s.csv"],
                 ["fit", wav, "-o", missing / "m.skops"],
                 ["evaluate", tmp_path / "absent.skops", "--normal", wav, "--anomaly", wav,
                  "--out", missing / "plots"],
                 ["demo", "--out", wav]):
        status, _, err = _cli(argv, capsys)
        # The output is refused first: the model file is never looked at.
        assert status == 2 and "absent.skops" not in err, err
        assert ("such" in err or "clip.wav" in err) and len(err.strip().splitlines()) == 1


def test_broken_pipe_is_a_quiet_exit(model_file, wav, capsys, monkeypatch):
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    with time_limit(60):
        assert main(["score", str(model_file), str(wav), "--quiet"]) == 141
    assert capsys.readouterr().err == ""


def _run(*args, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return popen_interruptible([sys.executable, "-m", "skaudio_ad", *map(str, args)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               **kwargs)


def test_broken_pipe_and_ctrl_c_as_a_program(model_file, wav):
    # `skaudio-ad score ... | head -0`: the reader is gone before the first line is written.
    # A missing recording: only the CSV header is written, so no network is compiled.
    proc = _run("score", model_file, wav.parent / "missing.wav")
    proc.stdout.close()
    assert proc.wait(timeout=120) == 141
    assert proc.stderr.read().strip().splitlines() == [
        f"skaudio-ad: cannot score '{wav.parent / 'missing.wav'}': no such file or folder"]
    # Ctrl-C while the heavy modules are still being imported (without the caches: warm,
    # the whole run can end within the second).
    proc = _run("score", model_file, wav, "--no-cache")
    import time

    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "skaudio-ad: interrupted"


# ----------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _check_verdict_or_one_error(status, out, err, name):
    if status == 2:
        _one_error_line(err, name)
    else:
        assert status == 0 and err == "", err
        rows = out.splitlines()[1:]
        assert len(rows) == 1 and np.isfinite(float(rows[0].split(",")[1]))


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), min_size=1,
                      max_size=6))
def test_fuzz_wav_headers(edits, model_file, wav, tmp_path_factory, capsys):
    data = bytearray(wav.read_bytes())
    for position, value in edits:
        data[position] = value
    path = tmp_path_factory.mktemp("fuzz") / "mutated.wav"
    path.write_bytes(bytes(data))
    before = _peak_rss_kb()
    status, out, err = _cli(["score", model_file, path, "--quiet"], capsys, seconds=60)
    _check_verdict_or_one_error(status, out, err, path)
    assert _peak_rss_kb() - before < ONE_GIB_KB


@FUZZ
@given(data=st.data())
def test_fuzz_model_archives(data, model_file, wav, tmp_path_factory, capsys):
    original = model_file.read_bytes()
    kind = data.draw(st.sampled_from(["flip", "truncate", "schema"]))
    if kind == "flip":
        mutated = bytearray(original)
        for _ in range(data.draw(st.integers(1, 8))):
            mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
        mutated = bytes(mutated)
    elif kind == "truncate":
        mutated = original[: data.draw(st.integers(0, len(original) - 1))]
    else:  # a stored, valid zip whose schema text is mutated
        with zipfile.ZipFile(model_file) as archive:
            members = {item.filename: archive.read(item) for item in archive.infolist()}
        schema = bytearray(members["schema.json"])
        for _ in range(data.draw(st.integers(1, 4))):
            schema[data.draw(st.integers(0, len(schema) - 1))] = data.draw(
                st.sampled_from(b'{}[]",:0123456789.-eE abn'))
        members["schema.json"] = bytes(schema)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for name, member in members.items():
                archive.writestr(name, member)
        mutated = out.getvalue()
    path = tmp_path_factory.mktemp("fuzz") / "mutated.skops"
    path.write_bytes(mutated)
    before = _peak_rss_kb()
    status, out, err = _cli(["score", path, wav, "--quiet"], capsys, seconds=60)
    _check_verdict_or_one_error(status, out, err, path)
    assert _peak_rss_kb() - before < ONE_GIB_KB


def test_a_clip_that_breaks_its_batch_is_scored_alone_and_only_it_fails():
    from skaudio_ad._archive import rows_alone_on_failure

    calls = []

    def apply(X):
        calls.append(len(X))
        if not np.isfinite(X).all():
            raise ValueError("a non-finite clip")
        return X.sum(axis=1), -X[:, 0]

    X = np.arange(12.0).reshape(4, 3)
    assert rows_alone_on_failure(apply, X) == [(X[j].sum(), -X[j, 0]) for j in range(4)]
    assert calls == [4]  # one pass when the batch scores
    X[2, 1] = np.nan
    rows = rows_alone_on_failure(apply, X)
    assert isinstance(rows[2], ValueError) and "non-finite" in str(rows[2])
    assert [rows[j] for j in (0, 1, 3)] == [(X[j].sum(), -X[j, 0]) for j in (0, 1, 3)]
    assert calls == [4, 4, 1, 1, 1, 1]
