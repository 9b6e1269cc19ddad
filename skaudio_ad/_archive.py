"""score_files: score a large set of audio files in chunks, in process or on a Dask cluster."""

import numbers
import os
import sys

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["score_files"]

_METHODS = ("score_samples", "decision_function", "predict")


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _file_reader(pipeline, what="model"):
    """The fitted MelSpectrogramTransformer that begins ``pipeline``: how its files are read."""
    from ._features import MelSpectrogramTransformer

    steps = getattr(pipeline, "steps", None)
    mel = steps[0][1] if steps else None
    if (not isinstance(mel, MelSpectrogramTransformer) or len(steps) < 2
            or not hasattr(mel, "n_features_in_")):
        raise TypeError(
            f"{what} must be a fitted Pipeline that starts with a MelSpectrogramTransformer "
            f"and ends with a detector (it reads the files); got {type(pipeline).__name__}."
        )
    return mel


_VERDICTS = ("score_samples", "decision_function", "predict")


def detector_outputs(detector, S, methods):
    """``[getattr(detector, m)(S) for m in methods]``, with one forward pass where possible.

    A skaudio_ad detector derives ``decision_function`` and ``predict`` from
    ``score_samples`` (``_verdicts``, its threshold rule): the network then runs once for
    all three instead of once per method. Any other detector is called per method.
    """
    verdicts = getattr(detector, "_verdicts", None)
    if verdicts is None or not set(methods) <= set(_VERDICTS):
        return [getattr(detector, method)(S) for method in methods]
    scores = detector.score_samples(S)
    outputs = dict(zip(_VERDICTS, (scores, *verdicts(scores)), strict=True))
    return [outputs[method] for method in methods]


def rows_alone_on_failure(apply, X):
    """``apply(X)`` row by row: a list with, per row of ``X``, its outputs or its ValueError.

    ``apply`` maps clips to a tuple of arrays whose first axis is the clip. The batch is
    tried first; when a ValueError breaks it (one damaged clip), every clip is applied
    alone, so that the others still get their outputs and the damaged one its own reason.
    """
    try:
        outputs = apply(X)
    except ValueError:
        pass
    else:
        return [tuple(o[j] for o in outputs) for j in range(len(X))]
    rows = []
    for x in X:
        try:
            rows.append(tuple(o[0] for o in apply(x[None])))
        except ValueError as exc:
            rows.append(exc)
    return rows


def _score_chunk(model, start, paths, machine_ids, methods):
    """Values of one chunk of files (rows, one column per method), NaN where a file failed,
    and ``(index, reason)`` per failure. Runs on a worker: it must not raise for one bad file."""
    from ._fleet import _rows_by_machine

    values = np.full((len(paths), len(methods)), np.nan)
    failures = {}
    if machine_ids is None:
        groups = [(model, np.arange(len(paths)))]
    else:
        groups = []
        for machine, rows in _rows_by_machine(machine_ids).items():
            pipeline = model.estimators_.get(machine)
            if pipeline is None:
                reason = (f"machine id {machine!r} has no model in this fleet; known machine "
                          f"ids: {model.machine_ids_}")
                failures.update(dict.fromkeys(rows.tolist(), reason))
            else:
                groups.append((pipeline, rows))
    for pipeline, rows in groups:
        _score_group(pipeline, [paths[i] for i in rows], rows, methods, values, failures)
    values[list(failures)] = np.nan
    return start, values, sorted(failures.items())


def _score_group(pipeline, paths, rows, methods, values, failures):
    """Score ``paths`` (rows ``rows`` of the chunk) with one Pipeline, read by io's reader."""
    from .io import iter_clips

    mel = _file_reader(pipeline)
    features, detector = pipeline[:-1], pipeline[-1]
    reasons = {}
    chunks = iter_clips(paths, sr=mel.sr, channel=mel.channel, duration=mel.duration,
                        n_samples=None if mel.duration is not None else mel.n_features_in_,
                        chunk_size=len(paths), dtype=np.float32,
                        on_error=lambda path, reason: reasons.setdefault(path, reason))

    def apply(X):
        S = features.transform(X)
        return (np.column_stack(detector_outputs(detector, S, methods)),)

    read = np.zeros(len(paths), dtype=bool)
    for chunk in chunks:
        read[chunk.indices] = True
        for j, result in zip(chunk.indices, rows_alone_on_failure(apply, chunk.X), strict=True):
            if isinstance(result, ValueError):
                failures[int(rows[j])] = _one_line(result)
            else:
                values[rows[j]] = result[0]
    for j in np.flatnonzero(~read):
        failures[int(rows[j])] = reasons.get(paths[j], "it could not be read")
    for j in np.flatnonzero(read):
        row = int(rows[j])
        if row not in failures and not np.isfinite(values[row]).all():
            failures[row] = (f"the model gave a non-finite value ({values[row].tolist()}); "
                             "the model or the recording is damaged")


def _check_args(model, paths, machine_ids, chunk_size, method, on_error):
    from ._fleet import PerMachineDetector, _as_id_list
    from .io import _error_policy

    if isinstance(paths, (str, bytes, os.PathLike)):
        raise ValueError(f"paths must be a sequence of paths; got the single path {paths!r}.")
    paths = [os.fspath(p) for p in paths]
    fleet = isinstance(model, PerMachineDetector)
    if fleet:
        check_is_fitted(model)
        for machine, pipeline in model.estimators_.items():
            _file_reader(pipeline, f"the model of machine {machine!r}")
    else:
        _file_reader(model)
    if machine_ids is not None:
        if not fleet:
            raise ValueError("machine_ids routes files to the models of a PerMachineDetector; "
                             f"this model is a {type(model).__name__}: pass machine_ids=None.")
        if isinstance(machine_ids, (str, bytes)) or len(machine_ids) != len(paths):
            raise ValueError(
                "machine_ids must hold one id per path; got "
                f"{machine_ids!r} for {len(paths)} paths."
            )
        machine_ids = _as_id_list(machine_ids, len(paths))
    elif fleet:
        raise ValueError("machine_ids is required for a PerMachineDetector: one machine id "
                         "per path.")
    if (not isinstance(chunk_size, numbers.Integral) or isinstance(chunk_size, bool)
            or chunk_size < 1):
        raise ValueError(f"chunk_size must be an int >= 1; got {chunk_size!r}.")
    methods = (method,) if isinstance(method, str) else tuple(method)
    if not methods or any(m not in _METHODS for m in methods):
        raise ValueError(f"method must be one of {_METHODS} or a sequence of them; got "
                         f"{method!r}.")
    _error_policy(on_error)  # io's rule for the argument: "raise" or a callable(path, reason)
    return paths, machine_ids, methods


def score_files(model, paths, *, machine_ids=None, method="score_samples", chunk_size=64,
                client=None, on_error="raise", progress=False):
    """Score audio files in chunks, spread over a Dask cluster's workers when given a client.

    The paths are cut into chunks of ``chunk_size`` files. Each chunk is one task: its files
    are read by :func:`skaudio_ad.io.iter_clips` as the model's
    :class:`~skaudio_ad.MelSpectrogramTransformer` would read them (its ``sr``, ``channel``,
    ``duration`` and fitted length), transformed once and scored, so memory stays bounded by
    a chunk whatever the number of files. With a :class:`dask.distributed.Client`, the model
    is scattered to every worker once and the chunks are mapped over the workers; without
    one, the chunks run one after the other in this process. A file that cannot be scored
    does not stop the others: io's error policy reports it (cannot be read, not a regular
    file, wrong length, NaN samples, ...), and so is a file whose machine id has no model, a
    file that fails the model alone, and a file whose value is not finite.

    Parameters
    ----------
    model : Pipeline or PerMachineDetector
        A fitted Pipeline that starts with a :class:`~skaudio_ad.MelSpectrogramTransformer`
        and ends with a detector, or a :class:`~skaudio_ad.PerMachineDetector` of such
        Pipelines.
    paths : sequence of str or os.PathLike
        The files, e.g. ``sorted(Path("archive").rglob("*.wav"))``. On a cluster the workers
        must be able to read them (a shared file system or the same mount on every node).
    machine_ids : sequence of (str or int) or None, default=None
        One machine id per path, required by a :class:`~skaudio_ad.PerMachineDetector`
        (each file is scored by its machine's model); None for a single-machine model.
    method : {"score_samples", "decision_function", "predict"} or sequence of them, \
default="score_samples"
        The detector's method to call; several methods are computed from one reading and
        one transform of each file.
    chunk_size : int >= 1, default=64
        Files per task. Larger chunks amortise the per-call overhead (and the compilation
        of the network for each new batch shape); smaller ones balance better over many
        workers and bound memory (64 ten-second 16 kHz clips are 41 MB as float32).
    client : dask.distributed.Client or None, default=None
        Spread the chunks over this client's workers; None scores in this process.
    on_error : "raise" or callable, default="raise"
        What to do with a file that cannot be scored, as in :func:`skaudio_ad.io.iter_clips`:
        ``"raise"`` raises a ``ValueError`` naming it at the first such file; a callable is
        called as ``on_error(path, reason)`` for each one (in this process, as the chunks
        complete) and the file's value is NaN.
    progress : bool, default=False
        Show a tqdm progress bar of the files scored, on stderr.

    Returns
    -------
    values : ndarray of shape (n_files,) or (n_files, n_methods), dtype float64
        ``method``'s value for each file, in the order of ``paths`` (one column per method
        when ``method`` is a sequence); NaN for the files reported to ``on_error``.

    Raises
    ------
    ValueError
        With ``on_error="raise"``, the first file that cannot be scored and why; or an
        argument is invalid.
    TypeError
        ``model`` (or a machine's model) is not a fitted Pipeline that reads files.

    See Also
    --------
    PerMachineDetector : One model per machine, routed by ``machine_ids``.
    skaudio_ad.io.iter_clips : The reader, and its error policy.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, soundfile as sf
    >>> from sklearn.pipeline import Pipeline
    >>> from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer, score_files
    >>> folder = tempfile.mkdtemp()
    >>> rng = np.random.default_rng(0)
    >>> paths = []
    >>> for i in range(6):
    ...     paths.append(os.path.join(folder, f"clip_{i}.wav"))
    ...     sf.write(paths[-1], 0.1 * rng.standard_normal(8000), 16000)
    >>> model = Pipeline([("mel", MelSpectrogramTransformer(n_mels=16)),
    ...                   ("detector", ConvAutoencoderDetector(
    ...                       max_epochs=1, hidden_channels=4, latent_dim=2,
    ...                       patch_frames=8, validation_fraction=0.5,
    ...                       random_state=0))]).fit(paths)
    >>> failed = []
    >>> values = score_files(model, paths + ["missing.wav"], chunk_size=4,
    ...                      on_error=lambda path, reason: failed.append(path))
    >>> values.shape, failed
    ((7,), ['missing.wav'])
    >>> bool(np.isnan(values[-1])), bool(np.isfinite(values[:-1]).all())
    (True, True)
    """
    from tqdm import tqdm

    paths, machine_ids, methods = _check_args(model, paths, machine_ids, chunk_size, method,
                                              on_error)
    values = np.full((len(paths), len(methods)), np.nan)
    starts = range(0, len(paths), chunk_size)
    chunks = [paths[s : s + chunk_size] for s in starts]
    ids = [None if machine_ids is None else machine_ids[s : s + chunk_size] for s in starts]

    def collect(result):
        start, chunk_values, failures = result
        values[start : start + len(chunk_values)] = chunk_values
        for i, reason in failures:
            path = paths[start + i]
            if on_error == "raise":
                raise ValueError(f"cannot score {path!r}: {reason}")
            on_error(path, reason)
        bar.update(len(chunk_values))

    with tqdm(total=len(paths), desc="scoring", unit="file", disable=not progress,
              leave=False, file=sys.stderr) as bar:
        if client is None:
            for start, chunk, chunk_ids in zip(starts, chunks, ids, strict=True):
                collect(_score_chunk(model, start, chunk, chunk_ids, methods))
            return values[:, 0] if isinstance(method, str) else values
        from distributed import as_completed

        # Scattered once: every task refers to the worker's copy instead of shipping the model.
        [model_future] = client.scatter([model], broadcast=True, hash=False)
        futures = client.map(_score_chunk, [model_future] * len(chunks), list(starts), chunks,
                             ids, [methods] * len(chunks), pure=False)
        try:
            for future in as_completed(futures):
                collect(future.result())
        finally:
            client.cancel(futures + [model_future])
    return values[:, 0] if isinstance(method, str) else values
