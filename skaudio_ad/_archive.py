"""score_files: score a large set of audio files in chunks, in process or on a Dask cluster."""

import numbers
import os
import sys

import numpy as np

__all__ = ["score_files"]

_METHODS = ("score_samples", "decision_function", "predict")
# Errors a model raises for one unusable file (soundfile's are RuntimeErrors).
_FILE_ERRORS = (ValueError, OSError, RuntimeError)


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _score_chunk(model, start, paths, machine_ids, method):
    """Values of one chunk of files, NaN where a file failed, and ``(index, reason)`` per
    failure. Runs on a worker: it must not raise for one bad file."""
    values = np.full(len(paths), np.nan)
    failures = []
    kwargs = {} if machine_ids is None else {"machine_ids": machine_ids}
    try:
        values[:] = getattr(model, method)(paths, **kwargs)
        return start, values, failures
    except _FILE_ERRORS:
        pass  # one file broke the batch: score one by one so the others still get a value
    for i, path in enumerate(paths):
        one = {} if machine_ids is None else {"machine_ids": machine_ids[i : i + 1]}
        try:
            values[i] = getattr(model, method)([path], **one)[0]
        except _FILE_ERRORS as exc:
            failures.append((i, _one_line(exc)))
    return start, values, failures


def _check_args(paths, machine_ids, chunk_size, method, on_error):
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise ValueError(f"paths must be a sequence of paths; got the single path {paths!r}.")
    paths = [os.fspath(p) for p in paths]
    if machine_ids is not None:
        if isinstance(machine_ids, (str, bytes)) or len(machine_ids) != len(paths):
            raise ValueError(
                "machine_ids must hold one id per path; got "
                f"{machine_ids!r} for {len(paths)} paths."
            )
        machine_ids = list(machine_ids)
    if (not isinstance(chunk_size, numbers.Integral) or isinstance(chunk_size, bool)
            or chunk_size < 1):
        raise ValueError(f"chunk_size must be an int >= 1; got {chunk_size!r}.")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}.")
    if on_error != "raise" and not callable(on_error):
        raise ValueError(f"on_error must be 'raise' or a callable(path, reason); got {on_error!r}.")
    return paths, machine_ids


def score_files(model, paths, *, machine_ids=None, method="score_samples", chunk_size=64,
                client=None, on_error="raise", progress=False):
    """Score audio files in chunks, spread over a Dask cluster's workers when given a client.

    The paths are cut into chunks of ``chunk_size`` files. Each chunk is one task: the model
    reads, transforms and scores its files together, so memory stays bounded by a chunk
    whatever the number of files. With a :class:`dask.distributed.Client`, the model is
    scattered to every worker once and the chunks are mapped over the workers; without one,
    the chunks run one after the other in this process. A file that cannot be scored (it
    cannot be read, is too short, holds NaN, its machine id is unknown...) does not stop the
    others: its chunk is scored file by file and the file is reported through ``on_error``.

    Parameters
    ----------
    model : estimator
        A fitted model that takes a list of paths as ``X``: a Pipeline starting with a
        :class:`~skaudio_ad.MelSpectrogramTransformer`, or a
        :class:`~skaudio_ad.PerMachineDetector` of such Pipelines.
    paths : sequence of str or os.PathLike
        The files, e.g. ``sorted(Path("archive").rglob("*.wav"))``. On a cluster the workers
        must be able to read them (a shared file system or the same mount on every node).
    machine_ids : sequence of (str or int) or None, default=None
        One machine id per path, required by a :class:`~skaudio_ad.PerMachineDetector`
        and passed to its ``method``; None for a single-machine model.
    method : {"score_samples", "decision_function", "predict"}, default="score_samples"
        The model's method to call.
    chunk_size : int >= 1, default=64
        Files per task. Larger chunks amortise the per-call overhead (and the compilation
        of the network for each new batch shape); smaller ones balance better over many
        workers and bound memory (64 ten-second 16 kHz clips are 41 MB as float32).
    client : dask.distributed.Client or None, default=None
        Spread the chunks over this client's workers; None scores in this process.
    on_error : "raise" or callable, default="raise"
        What to do with a file that cannot be scored: ``"raise"`` raises a ``ValueError``
        naming it at the first such file; a callable is called as ``on_error(path,
        reason)`` for each one (in this process, as the chunks complete) and the file's
        value is NaN.
    progress : bool, default=False
        Show a tqdm progress bar of the files scored, on stderr.

    Returns
    -------
    values : ndarray of shape (n_files,), dtype float64
        ``method``'s value for each file, in the order of ``paths``; NaN for the files
        reported to ``on_error``.

    Raises
    ------
    ValueError
        With ``on_error="raise"``, the first file that cannot be scored and why.

    See Also
    --------
    PerMachineDetector : One model per machine, routed by ``machine_ids``.
    skaudio_ad.io.iter_audio_chunks : Read files in chunks without scoring them.

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

    paths, machine_ids = _check_args(paths, machine_ids, chunk_size, method, on_error)
    values = np.full(len(paths), np.nan)
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
                collect(_score_chunk(model, start, chunk, chunk_ids, method))
            return values
        from distributed import as_completed

        # Scattered once: every task refers to the worker's copy instead of shipping the model.
        [model_future] = client.scatter([model], broadcast=True, hash=False)
        futures = client.map(_score_chunk, [model_future] * len(chunks), list(starts), chunks,
                             ids, [method] * len(chunks), pure=False)
        try:
            for future in as_completed(futures):
                collect(future.result())
        finally:
            client.cancel(futures + [model_future])
    return values
