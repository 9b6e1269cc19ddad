"""Live monitoring: score a continuous stream in windows and report anomaly events.

A source yields blocks of samples; :class:`StreamMonitor` cuts them into windows of the
model's clip length every ``hop`` samples, scores each window through the fitted pipeline
(``model[:-1].transform`` then ``model[-1].decision_function``: the threshold rule stays the
detector's), and turns the window decisions into events with hysteresis: an event opens
after ``min_windows`` consecutive anomalous windows and closes after ``min_normal_windows``
consecutive normal ones.

Event times are refined inside the windows: a window is anomalous once enough of it is, so
its own start is up to a window early or late. The monitor keeps the spectrograms of the
last windows; when an event opens (closes), it averages their frame errors on the stream's
frame grid around the first (last) anomalous window and places the start (end) at the best
single step up (down) of that curve: the split that maximises the difference of the means
on its two sides, weighted by ``sqrt(n_left * n_right / n)`` (a one-change-point
least-squares fit). It needs no frame threshold, so it holds for any scoring rule.
"""

import math
import os
import queue
import select
import sys
import time
from collections import deque

import numpy as np

__all__ = ["StreamMonitor", "FileSource", "RawSource", "MicrophoneSource", "open_source"]

#: Integer PCM is scaled as soundfile reads it: int16 / 2**15, int32 / 2**31, uint8 centred.
RAW_DTYPES = ("int16", "int32", "uint8", "float32", "float64")


#: An onset inside the stream's first window counts when the error after it is this many
#: times the error before it; otherwise the event starts with the stream.
_CLEAR_STEP = 1.5


class StreamError(ValueError):
    """A stream cannot be read or used; the message names it."""


# --------------------------------------------------------------------------- sources


class FileSource:
    """A WAV/FLAC file read block by block, as fast as possible or paced in real time."""

    def __init__(self, path, *, realtime=False):
        from .exceptions import AudioReadError
        from .io import _open

        self.name = str(path)
        try:
            # io's checks: a regular file only (a FIFO or a device could block or never end).
            self._file = _open(path)
        except AudioReadError as exc:
            stream = os.path.exists(path) and not (os.path.isfile(path) or os.path.isdir(path))
            hint = ("; to monitor a pipe or a device, give SOURCE - and redirect it to "
                    "standard input" if stream else "")
            raise StreamError(f"{path!r}: {exc.reason}{hint}") from exc
        self.sr = self._file.samplerate
        self.channels = self._file.channels
        self.realtime = realtime
        self._clock_start = None
        self._frames_read = 0
        self.trailing_bytes = 0

    def read(self, n):
        """Up to ``n`` frames as float32 ``(frames, channels)``; fewer at the end."""
        import soundfile as sf

        if self.realtime:
            now = time.monotonic()
            if self._clock_start is None:
                self._clock_start = now
            ahead = (self._frames_read + n) / self.sr - (now - self._clock_start)
            if ahead > 0:
                time.sleep(ahead)
        try:
            block = self._file.read(n, dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as exc:
            raise StreamError(f"{self.name!r}: decoding failed ({exc})") from exc
        self._frames_read += len(block)
        return block

    def close(self):
        self._file.close()


def _descriptor(stream):
    """The OS file descriptor behind ``stream``, or None (an in-memory stream)."""
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


class RawSource:
    """Raw interleaved PCM from a binary stream (standard input by default).

    A stream that starts with a WAV header (``cat file.wav | skaudio-ad monitor MODEL -``)
    is recognised: its rate, channels and sample format replace ``sr``, ``channels`` and
    ``dtype``.
    """

    def __init__(self, stream=None, *, sr, channels=1, dtype="float32", name="-"):
        if dtype not in RAW_DTYPES:
            raise StreamError(f"--dtype must be one of {', '.join(RAW_DTYPES)}; got {dtype!r}")
        self.name = name
        self.sr = int(sr)
        self.channels = int(channels)
        self.dtype = np.dtype(dtype)
        self._stream = sys.stdin.buffer if stream is None else stream
        # Standard input is read from its descriptor, in short waits (see _readinto).
        self._fd = _descriptor(sys.stdin) if stream is None and os.name == "posix" else None
        self._pending = b""
        self._remaining = None  # bytes left in a WAV data chunk of known size
        self.trailing_bytes = 0
        head = self._read_exact(12)
        if len(head) == 12 and head[:4] in (b"RIFF", b"RF64") and head[8:] == b"WAVE":
            self._read_wav_header(head[:4] == b"RF64")
        else:
            self._pending = head
        self._frame_bytes = self.dtype.itemsize * self.channels

    def _readinto(self, view):
        """Read at most ``len(view)`` bytes into ``view``; 0 only at the end of the stream."""
        if self._fd is None:
            return self._stream.readinto(view)
        # Ctrl-C is delivered to any thread of the process, often one of XLA's: that sets
        # Python's flag but leaves this thread blocked in read() until more data arrives (a
        # hang while the stream is quiet). Waiting in short slices returns to Python, which
        # then raises KeyboardInterrupt here.
        while not select.select([self._fd], [], [], 0.2)[0]:
            pass
        data = os.read(self._fd, len(view))
        view[: len(data)] = data
        return len(data)

    def _read_exact(self, n):
        buffer = bytearray(n)
        view = memoryview(buffer)
        got = 0
        while got < n:
            count = self._readinto(view[got:])
            if not count:
                break
            got += count
        return bytes(buffer[:got])

    def _read_wav_header(self, rf64):
        fmt = None
        while True:
            header = self._read_exact(8)
            if len(header) < 8:
                raise StreamError(f"{self.name!r}: the WAV header ends before its data chunk")
            chunk, size = header[:4], int.from_bytes(header[4:], "little")
            if chunk == b"data":
                break
            if size > 1 << 20:
                raise StreamError(f"{self.name!r}: WAV chunk {chunk!r} of {size} bytes "
                                  "before the data; not a stream this monitor can read")
            body = self._read_exact(size + size % 2)
            if chunk == b"fmt ":
                fmt = body
        if fmt is None or len(fmt) < 16:
            raise StreamError(f"{self.name!r}: WAV stream without a valid 'fmt ' chunk")
        tag = int.from_bytes(fmt[0:2], "little")
        if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the subformat GUID
            tag = int.from_bytes(fmt[24:26], "little")
        bits = int.from_bytes(fmt[14:16], "little")
        dtypes = {(1, 8): "uint8", (1, 16): "int16", (1, 32): "int32", (3, 32): "float32",
                  (3, 64): "float64"}
        if (tag, bits) not in dtypes:
            raise StreamError(f"{self.name!r}: WAV sample format {tag} with {bits} bits is not "
                              "supported on a stream; convert to 16- or 32-bit PCM or float")
        self.dtype = np.dtype(dtypes[tag, bits])
        self.channels = int.from_bytes(fmt[2:4], "little")
        self.sr = int.from_bytes(fmt[4:8], "little")
        if not rf64 and 0 < size < 0xFFFFFFFF:  # streaming writers leave 0 or 0xFFFFFFFF
            self._remaining = size

    def read(self, n):
        want = n * self._frame_bytes
        if self._remaining is not None:
            want = min(want, self._remaining)
        buffer = bytearray(want)
        view = memoryview(buffer)
        got = min(len(self._pending), want)
        view[:got] = self._pending[:got]
        self._pending = self._pending[got:]
        while got < want:
            count = self._readinto(view[got:])
            if not count:
                break
            got += count
        if self._remaining is not None:
            self._remaining -= got
        whole = got - got % self._frame_bytes
        if got < n * self._frame_bytes:  # end of stream: an incomplete last frame is dropped
            self.trailing_bytes = got - whole
        data = np.frombuffer(buffer[:whole], dtype=self.dtype).reshape(-1, self.channels)
        if self.dtype.kind == "i":
            return (data / float(2 ** (8 * self.dtype.itemsize - 1))).astype(np.float32)
        if self.dtype.kind == "u":
            return ((data.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
        return data.astype(np.float32)

    def close(self):
        pass


class MicrophoneSource:
    """An input device through ``sounddevice`` (PortAudio); install the ``live`` extra."""

    def __init__(self, device, *, sr, channels=1):
        try:
            import sounddevice
        except ImportError as exc:
            raise StreamError(
                "--device needs the sounddevice package and the PortAudio library: "
                "pip install 'skaudio_ad[live]' (and e.g. apt install libportaudio2)"
                + (f" ({exc})" if "PortAudio" in str(exc) else "")
            ) from exc
        except OSError as exc:  # sounddevice raises OSError when PortAudio is missing
            raise StreamError(f"--device needs the PortAudio library ({exc}); install it, "
                              "e.g. apt install libportaudio2") from exc
        self.name = f"device {device}"
        self.sr = int(sr)
        self.channels = int(channels)
        self.trailing_bytes = 0
        self._queue = queue.Queue()
        self._pending = np.empty((0, self.channels), np.float32)

        def callback(indata, frames, time_info, status):
            self._queue.put(indata.copy())

        try:
            self._stream = sounddevice.InputStream(
                device=int(device) if str(device).isdigit() else device, samplerate=self.sr,
                channels=self.channels, dtype="float32", callback=callback)
            self._stream.start()
        except Exception as exc:  # PortAudioError, ValueError for an unknown device
            raise StreamError(f"cannot open input device {device!r}: {exc}") from exc

    def read(self, n):
        while len(self._pending) < n:
            self._pending = np.concatenate([self._pending, self._queue.get()])
        block, self._pending = self._pending[:n], self._pending[n:]
        return block

    def close(self):
        self._stream.stop()
        self._stream.close()


def open_source(source, *, device=None, realtime=False, sr=None, channels=1, dtype="float32"):
    """The source for ``monitor SOURCE``: a file path, ``-`` for stdin, or ``device``."""
    if device is not None:
        return MicrophoneSource(device, sr=sr, channels=channels)
    if source == "-":
        return RawSource(sr=sr, channels=channels, dtype=dtype)
    return FileSource(source, realtime=realtime)


# --------------------------------------------------------------------------- monitor


def _step(curve, direction):
    """Index where ``curve`` best steps up (+1) or down (-1): a one-change-point fit."""
    n = len(curve)
    if n < 4:
        return n // 2
    csum = np.cumsum(curve)
    k = np.arange(2, n - 1)  # at least two frames on each side
    left = csum[k - 1] / k
    right = (csum[-1] - csum[k - 1]) / (n - k)
    gain = direction * (right - left) * np.sqrt(k * (n - k) / n)
    return int(k[np.argmax(gain)])


class StreamMonitor:
    """Windows, scores and events of one stream; feed it samples, read its records.

    Parameters
    ----------
    model : Pipeline
        A fitted pipeline: a :class:`~skaudio_ad.MelSpectrogramTransformer` first, a
        detector with ``decision_function`` (and ``frame_errors`` for the event times) last.
    hop : int > 0
        Samples between window starts (at the model's rate), at most one window.
    min_windows, min_normal_windows : int >= 1
        Consecutive anomalous windows that open an event, normal ones that close it.
    every : bool
        Also emit one record per window.
    channel : int or "mean"
        Channel of multichannel input.
    """

    def __init__(self, model, *, hop, min_windows=2, min_normal_windows=2, every=False,
                 channel=0, name="stream"):
        self.mel, self.features, self.detector = model[0], model[:-1], model[-1]
        self.sr = int(self.mel.sr)
        self.window = int(self.mel.n_features_in_)
        if not 0 < hop <= self.window:
            raise ValueError(f"hop must be between 1 sample and one window ({self.window} "
                             f"samples = {self.window / self.sr:g} s); got {hop} samples")
        self.hop = int(hop)
        self.min_windows = int(min_windows)
        self.min_normal_windows = int(min_normal_windows)
        self.every = every
        self.channel = channel
        self.name = name
        self.threshold = float(-self.detector.offset_)
        self._buffer = np.empty(0, np.float32)
        self._buffer_start = 0  # stream sample index of _buffer[0]
        self._next_start = 0  # stream sample index of the next window
        self.n_samples = 0
        self.n_windows = 0
        self.n_events = 0
        # Recent windows: (start sample, spectrogram, anomalous) for the event times.
        keep = 2 * math.ceil(self.window / self.hop) + self.min_windows + self.min_normal_windows
        self._recent = deque(maxlen=keep + 2)
        self._run_anomalous = []  # starts of the current run of anomalous windows
        self._run_normal = 0
        self._event = None

    # -- input --------------------------------------------------------------------

    def _mono(self, block):
        if block.ndim == 1:
            return block
        if self.channel == "mean":
            return block.mean(axis=1)
        if self.channel >= block.shape[1]:
            raise StreamError(f"{self.name}: channel {self.channel} requested, but the stream "
                              f"has {block.shape[1]} channel(s), numbered from 0")
        return block[:, self.channel]

    def feed(self, block):
        """Add samples ``(frames, channels)`` at the model's rate; returns the new records."""
        y = np.ascontiguousarray(self._mono(block), dtype=np.float32)
        if not np.isfinite(y).all():
            bad = int(np.flatnonzero(~np.isfinite(y))[0]) + self.n_samples
            raise StreamError(f"{self.name}: non-finite sample at {bad / self.sr:.3f} s")
        self.n_samples += len(y)
        self._buffer = np.concatenate([self._buffer, y])
        starts = []
        while self._next_start + self.window <= self.n_samples:
            starts.append(self._next_start)
            self._next_start += self.hop
        records = self._score(starts)
        # Keep the last window's samples too: finish() may score a window flush with the end.
        drop = min(self._next_start, self.n_samples - self.window) - self._buffer_start
        if drop > 0:
            self._buffer = self._buffer[drop:]
            self._buffer_start += drop
        return records

    def finish(self, reason="end of stream"):
        """End of the stream: score a last window flush with its end, close an open event."""
        records = []
        last_start = self._next_start - self.hop
        if self.n_samples >= self.window and self.n_samples - self.window > last_start:
            records += self._score([self.n_samples - self.window])
        if self._event is not None:
            end = self._recent[-1][0] + self.window if self._recent else self.n_samples
            records.append(self._close(end / self.sr, reason))
        return records

    # -- scoring --------------------------------------------------------------------

    def _score(self, starts):
        if not starts:
            return []
        clips = np.stack([self._buffer[s - self._buffer_start : s - self._buffer_start
                                       + self.window] for s in starts])
        S = self.features.transform(clips)
        decision = self.detector.decision_function(S)
        records = []
        for start, S_one, d in zip(starts, S, decision, strict=True):
            score = self.threshold - float(d)  # anomaly score: -score_samples
            if not (math.isfinite(score) and math.isfinite(float(d))):
                raise StreamError(
                    f"{self.name}: the window {start / self.sr:.3f}-"
                    f"{(start + self.window) / self.sr:.3f} s scored {score}; a non-finite "
                    "score is no verdict (is the model file damaged?)")
            anomalous = bool(d < 0)
            self.n_windows += 1
            self._recent.append((start, S_one, anomalous))
            if self.every:
                records.append({"start": start / self.sr, "end": (start + self.window) / self.sr,
                                "score": score, "decision": float(d), "anomaly": anomalous})
            records += self._update(start, score, anomalous)
        return records

    def _update(self, start, score, anomalous):
        if self._event is None:
            if not anomalous:
                self._run_anomalous = []
                return []
            self._run_anomalous.append((start, score))
            if len(self._run_anomalous) < self.min_windows:
                return []
            first = self._run_anomalous[0][0]
            t0 = self._refined(first, up=True)
            self._event = {"start": t0, "max_score": max(s for _, s in self._run_anomalous),
                           "windows": len(self._run_anomalous), "last": start}
            self._run_anomalous = []
            self._run_normal = 0
            self.n_events += 1
            return [{"event": "start", "start": t0, "window_start": first / self.sr,
                     "score": self._event["max_score"], "threshold": self.threshold}]
        if anomalous:
            self._run_normal = 0
            self._event["last"] = start
            self._event["windows"] += 1
            self._event["max_score"] = max(self._event["max_score"], score)
            return []
        self._run_normal += 1
        if self._run_normal < self.min_normal_windows:
            return []
        return [self._close(self._refined(self._event["last"], up=False), "normal")]

    def _close(self, end, reason):
        event, self._event = self._event, None
        self._run_normal = 0
        end = max(end, event["start"] + self.mel.hop_length / self.sr)
        return {"event": "end", "start": event["start"], "end": end,
                "duration": end - event["start"], "max_score": event["max_score"],
                "windows": event["windows"], "threshold": self.threshold, "closed_by": reason}

    def _refined(self, start, *, up):
        """Event start (``up``) or end time near the window at ``start``, in seconds."""
        frame = self.mel.hop_length
        lo = start - self.window if up else start
        hi = start + self.window if up else start + 2 * self.window
        stored = [(s, S) for s, S, _ in self._recent if s + self.window > lo and s < hi]
        if not stored:
            return (start if up else start + self.window) / self.sr
        errors = self.detector.frame_errors(np.stack([S for _, S in stored]))
        g_lo = max(0, round(lo / frame))
        g_hi = round(hi / frame) + 1
        sums = np.zeros(g_hi - g_lo)
        counts = np.zeros(g_hi - g_lo)
        for (s, _), e in zip(stored, errors, strict=True):
            grid = np.round((s + np.arange(len(e)) * frame) / frame).astype(int) - g_lo
            ok = (grid >= 0) & (grid < len(sums))
            np.add.at(sums, grid[ok], e[ok])
            np.add.at(counts, grid[ok], 1)
        seen = np.flatnonzero(counts)
        curve = sums[seen] / counts[seen]
        k = _step(curve, +1 if up else -1)
        if up and start == 0 and not curve[k:].mean() > _CLEAR_STEP * curve[:k].mean():
            return 0.0  # anomalous from the first window on, with no clear onset inside it
        return float((g_lo + seen[k]) * frame / self.sr)
