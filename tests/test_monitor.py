"""``skaudio-ad monitor``: a synthetic stream with a planted anomaly, on a file and on stdin."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from sklearn.pipeline import make_pipeline

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer, save
from skaudio_ad._cli import main
from skaudio_ad._monitor import StreamMonitor
from skaudio_ad.datasets import make_machine_sounds

from .conftest import REPO_ROOT, popen_interruptible

SR = 8000
HOP = 0.25
TRUTH = (6.0, 10.0)  # the planted anomaly, seconds from the stream's start
STREAM_SECONDS = 16.0


def _plant(y, start, end, seed=0):
    y = y.copy()
    i0, i1 = int(start * SR), int(end * SR)
    t = np.arange(i1 - i0) / SR
    rng = np.random.default_rng(seed)
    y[i0:i1] += (0.1 * np.sin(2 * np.pi * 1500 * t)
                 + 0.03 * rng.standard_normal(len(t))).astype(np.float32)
    return y


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny model (1 s clips at 8 kHz) and a 16 s stream with an anomaly at 6-10 s."""
    folder = tmp_path_factory.mktemp("monitor")
    X, _ = make_machine_sounds(32, 0, duration=1.0, sr=SR, random_state=0)
    model = make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=128, n_mels=32),
        ConvAutoencoderDetector(patch_frames=16, hidden_channels=16, latent_dim=8,
                                max_epochs=15, validation_fraction=0.25, threshold=3.0,
                                random_state=0),
    ).fit(X)
    model_path = folder / "tiny.skops"
    save(model, model_path)
    # One continuous recording of the machine (not clips glued together).
    normal = make_machine_sounds(1, 0, duration=STREAM_SECONDS, sr=SR, random_state=5)[0][0]
    stream = _plant(normal, *TRUTH)
    wav = folder / "stream.wav"
    sf.write(wav, stream, SR, subtype="FLOAT")
    return {"model": model, "model_path": str(model_path), "stream": stream,
            "normal": normal, "wav": str(wav), "folder": folder}


def _records(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _events(records):
    return [r for r in records if "event" in r]


def _run(args, capsys):
    status = main(["monitor", *args, "--no-cache"])
    out, err = capsys.readouterr()
    return status, _records(out), err


def _subprocess(args, data, **kw):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "skaudio_ad", "monitor", *args], input=data,
                          capture_output=True, env=env, timeout=120, **kw)


def _assert_one_event_at_truth(records):
    events = _events(records)
    assert [e["event"] for e in events] == ["start", "end"], events
    start, end = events
    assert abs(start["start"] - TRUTH[0]) <= HOP, start
    assert abs(end["start"] - TRUTH[0]) <= HOP, end
    assert abs(end["end"] - TRUTH[1]) <= HOP, end
    assert end["max_score"] > end["threshold"]
    assert end["closed_by"] == "normal"


def test_file_stream_event_times(setup, capsys):
    status, records, err = _run([setup["model_path"], setup["wav"], "--hop", str(HOP)], capsys)
    assert status == 0, err
    _assert_one_event_at_truth(records)


def test_stdin_stream_event_times_subprocess(setup):
    done = _subprocess([setup["model_path"], "-", "--hop", str(HOP), "--dtype", "float32",
                        "--sr", str(SR)], setup["stream"].astype("<f4").tobytes())
    assert done.returncode == 0, done.stderr
    _assert_one_event_at_truth(_records(done.stdout.decode()))


def test_stdin_int16_truncated_stream(setup):
    """int16 PCM cut inside a sample frame: the full windows are scored, the end reported."""
    pcm = np.clip(setup["stream"] * 32768, -32768, 32767).astype("<i2").tobytes()
    cut = pcm[: len(pcm) - 3001]  # odd: a partial last sample, and a partial last hop
    done = _subprocess([setup["model_path"], "-", "--hop", str(HOP), "--dtype", "int16",
                        "--fail-on-anomaly"], cut)
    assert done.returncode == 1, done.stderr
    _assert_one_event_at_truth(_records(done.stdout.decode()))
    err = done.stderr.decode()
    assert "Traceback" not in err and "1 byte" in err and len(err.splitlines()) == 1


def test_every_writes_one_record_per_window(setup, capsys):
    status, records, _ = _run([setup["model_path"], setup["wav"], "--hop", "0.3", "--every"],
                              capsys)
    assert status == 0
    windows = [r for r in records if "event" not in r]
    n = len(setup["stream"])
    hop, window = round(0.3 * SR), SR
    expected = (n - window) // hop + 1 + ((n - window) % hop > 0)  # + one flush with the end
    assert len(windows) == expected
    assert set(windows[0]) == {"start", "end", "score", "decision", "anomaly"}
    assert windows[0]["start"] == 0.0 and windows[0]["end"] == 1.0
    assert windows[-1]["end"] == pytest.approx(n / SR)
    for r in windows:
        assert r["anomaly"] == (r["decision"] < 0) == (r["score"] > _events(records)[0][
            "threshold"])
    # The detector's own decision, not a re-implementation of its rule.
    model, clip = setup["model"], setup["stream"][: SR][None]
    assert windows[0]["decision"] == pytest.approx(model.decision_function(clip)[0], rel=1e-5)


def test_hysteresis_and_normal_stream(setup, capsys):
    # Too many windows needed to open an event: nothing fires.
    status, records, _ = _run([setup["model_path"], setup["wav"], "--hop", str(HOP),
                               "--min-windows", "100", "--fail-on-anomaly"], capsys)
    assert status == 0 and records == []
    normal = setup["folder"] / "normal.wav"
    sf.write(normal, setup["normal"], SR, subtype="FLOAT")
    status, records, _ = _run([setup["model_path"], str(normal), "--fail-on-anomaly"], capsys)
    assert status == 0 and _events(records) == []


def test_monitor_core_closes_open_event_at_end(setup):
    """An anomaly lasting to the end of the stream is closed by finish()."""
    monitor = StreamMonitor(setup["model"], hop=round(HOP * SR), min_windows=2,
                            min_normal_windows=2)
    stream = setup["stream"][: int(8.0 * SR)]
    records = []
    for lo in range(0, len(stream), 1000):  # blocks that do not line up with the hop
        records += monitor.feed(stream[lo : lo + 1000, None])
    records += monitor.finish()
    start, end = _events(records)
    assert abs(start["start"] - TRUTH[0]) <= HOP
    assert end["closed_by"] == "end of stream" and end["end"] == pytest.approx(8.0)


def test_broken_pipe_ends_quietly(setup):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        f"{sys.executable} -m skaudio_ad monitor {setup['model_path']} {setup['wav']} "
        f"--every --hop 0.1 | head -n 1", shell=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate(timeout=120)
    assert len(_records(out.decode())) == 1
    assert b"Traceback" not in err and b"Error" not in err, err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics")
def test_ctrl_c_closes_and_flushes_the_open_event(setup):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = popen_interruptible(
        [sys.executable, "-m", "skaudio_ad", "monitor", setup["model_path"], "-", "--hop",
         str(HOP)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env)
    try:
        proc.stdin.write(setup["stream"][: int(9.0 * SR)].astype("<f4").tobytes())
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())  # the start event: the anomaly is open
        assert first["event"] == "start"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        # stdin stays open until the process has ended: an end of stream cannot win the race.
        proc.wait(timeout=60)
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        proc.kill()
        proc.stdin.close()
    end = json.loads(out.decode().splitlines()[0])
    assert end["event"] == "end" and end["closed_by"] == "interrupt"
    assert end["start"] == first["start"] and end["end"] >= end["start"]
    assert proc.returncode == 130 and b"Traceback" not in err


@pytest.mark.parametrize("case", ["short", "nan", "missing", "no-source", "channels", "fifo",
                                  "device", "folder"])
def test_bad_streams_are_one_line_exit_2(setup, capsys, monkeypatch, case, tmp_path):
    import io

    args = [setup["model_path"]]
    data = b""
    if case == "short":
        args += ["-"]
        data = setup["stream"][: SR // 2].astype("<f4").tobytes()
    elif case == "nan":
        bad = setup["stream"][: 2 * SR].copy()
        bad[SR + 10] = np.nan
        args += ["-"]
        data = bad.astype("<f4").tobytes()
    elif case == "missing":
        args += [str(tmp_path / "nothing.wav")]
    elif case == "no-source":
        pass
    elif case == "channels":
        args += ["-", "--channel", "3"]
        data = setup["stream"][: 2 * SR].astype("<f4").tobytes()
    elif case == "fifo":  # by name a FIFO could block forever: refused before opening
        os.mkfifo(tmp_path / "pipe.wav")
        args += [str(tmp_path / "pipe.wav")]
    elif case == "device":
        args += ["/dev/zero"]
    elif case == "folder":
        args += [str(tmp_path)]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    status, records, err = _run(args, capsys)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    expected = {"short": "shorter than one window", "nan": "non-finite sample at 1.001 s",
                "missing": "nothing.wav", "no-source": "SOURCE", "channels": "channel 3",
                "fifo": "pipe.wav': not a regular file (a named pipe (FIFO))",
                "device": "/dev/zero': not a regular file (a device)",
                "folder": "it is a directory"}
    assert expected[case] in err


def test_device_without_sounddevice_is_one_line(setup, capsys):
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError):
        status, _, err = _run([setup["model_path"], "--device", "0"], capsys)
        assert status == 2 and "sounddevice" in err and len(err.strip().splitlines()) == 1
    else:
        pytest.skip("sounddevice is installed; the missing-library path cannot be taken")


def test_non_finite_score_is_an_error_not_normal(setup, tmp_path, capsys):
    import copy

    from skaudio_ad._persistence import _write_model_file

    model = copy.deepcopy(setup["model"])
    detector = model[-1]
    detector.offset_ = float("nan")  # a damaged model: every decision is NaN
    path = tmp_path / "broken.skops"
    _write_model_file(model, path)  # damaged on disk: save() refuses to write it
    status, records, err = _run([str(path), setup["wav"], "--fail-on-anomaly"], capsys)
    assert status == 2 and records == []
    assert "non-finite" in err or "nan" in err.lower()


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_wav_on_stdin_uses_its_header(setup, capsys, monkeypatch, subtype):
    """``cat file.wav | skaudio-ad monitor MODEL -``: rate, channels and format from the header."""
    import io

    data = io.BytesIO()
    stereo = np.stack([np.zeros_like(setup["stream"]), setup["stream"]], axis=1)
    sf.write(data, stereo, SR, format="WAV", subtype=subtype)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.getvalue())))
    status, records, err = _run([setup["model_path"], "-", "--hop", str(HOP), "--channel", "1",
                                 "--dtype", "int32"], capsys)
    assert status == 0, err
    _assert_one_event_at_truth(records)


def test_anomaly_from_the_first_sample_starts_at_zero(setup):
    stream = _plant(setup["normal"], 0.0, 4.0)
    monitor = StreamMonitor(setup["model"], hop=round(HOP * SR))
    records = monitor.feed(stream[:, None]) + monitor.finish()
    start, end = _events(records)[:2]
    assert start["start"] == 0.0 and abs(end["end"] - 4.0) <= HOP
