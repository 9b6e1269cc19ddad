"""PerMachineDetector: one detector per machine of a fleet, fitted with joblib anywhere."""

import numbers

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, MetaEstimatorMixin, OutlierMixin, _fit_context, clone
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import _check_method_params, _num_samples, check_is_fitted

__all__ = ["PerMachineDetector"]


def _as_id_list(machine_ids, n_rows, name="machine_ids"):
    """``machine_ids`` as a list of Python ``str`` or ``int``, one per row of X."""
    if machine_ids is None:
        raise ValueError(
            f"{name} is required: pass one machine id (str or int) per row of X, e.g. "
            "machine_ids=['id_00', 'id_00', 'id_02', ...]."
        )
    if isinstance(machine_ids, (str, bytes, numbers.Number)):
        raise ValueError(
            f"{name} must be a sequence of one id per row of X; got the single value "
            f"{machine_ids!r}."
        )
    array = np.asarray(machine_ids, dtype=object)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one id per row of X); got shape {array.shape}.")
    if len(array) != n_rows:
        raise ValueError(
            f"{name} has {len(array)} ids but X has {n_rows} rows: give one id per row."
        )
    ids = []
    for value in array:
        if isinstance(value, (str, np.str_)):
            ids.append(str(value))
        elif isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
            ids.append(int(value))
        else:
            raise ValueError(
                f"{name} must hold str or int ids; got {type(value).__name__} {value!r}."
            )
    if len({type(i) for i in ids}) > 1:
        raise ValueError(
            f"{name} mixes str and int ids (e.g. {ids[0]!r} and "
            f"{next(i for i in ids if type(i) is not type(ids[0]))!r}): use one kind."
        )
    return ids


def _rows_by_machine(ids):
    """``{machine id: row indices}`` in sorted id order."""
    rows = {}
    for i, machine in enumerate(ids):
        rows.setdefault(machine, []).append(i)
    return {machine: np.asarray(rows[machine]) for machine in sorted(rows)}


def _fit_one(estimator, machine, data):
    """Fit ``estimator`` on one machine's ``(X, y, params)``; runs in a joblib worker."""
    X, y, params = data
    try:
        return estimator.fit(X, y, **params)
    except Exception as exc:
        exc.add_note(f"(while fitting the model of machine {machine!r} in PerMachineDetector)")
        raise


def _active_dask_client():
    """The client of an active ``joblib.parallel_config(backend="dask")``, else None."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    if type(backend).__name__ != "DaskDistributedBackend":
        return None
    return backend.client


class PerMachineDetector(MetaEstimatorMixin, OutlierMixin, BaseEstimator):
    """One anomaly detector per machine: fit a clone of ``estimator`` on each machine's clips.

    A plant has many machines, each with its own normal sound, and MIMII and DCASE train one
    model per machine id for that reason. ``fit`` groups the rows of ``X`` by
    ``machine_ids`` and fits one ``clone(estimator)`` per machine; ``score_samples``,
    ``decision_function`` and ``predict`` send each row to its machine's model and return
    the results in the order of the rows. ``decision_function = score_samples - offset``
    holds row by row, with each machine's own ``offset_``, so ``predict`` applies each
    machine's own threshold.

    The fits run through :class:`joblib.Parallel`, so ``n_jobs`` fits them in local worker
    processes, and ``with joblib.parallel_config(backend="dask"):`` (a
    :class:`dask.distributed.Client` connected) or Ray's joblib backend spreads them over a
    cluster without changing the code. Each fit is the same computation wherever it runs:
    with an int ``random_state`` in ``estimator`` the scores equal those of a sequential fit
    bit for bit (see :ref:`many_machines`).

    Parameters
    ----------
    estimator : estimator object
        The model of one machine, usually ``Pipeline([("mel", MelSpectrogramTransformer()),
        ("detector", ConvAutoencoderDetector(random_state=0))])``, or a bare detector when
        ``X`` holds features. It is cloned per machine; it may take paths as ``X``.
    n_jobs : int or None, default=None
        Machines fitted at once. None means 1 unless a :func:`joblib.parallel_config`
        context says otherwise; -1 all CPUs. Under ``parallel_config(backend="dask")`` the
        fits go to the Dask client's workers, all of them, whatever ``n_jobs``. On one
        machine each process's XLA uses every core: see :ref:`many_machines` before raising
        it.
    verbose : int >= 0, default=0
        joblib's progress messages about the per-machine fits (on stderr); 0 is silent.

    Attributes
    ----------
    estimators_ : dict of {str or int: estimator}
        The fitted model of each machine, keyed by machine id.
    machine_ids_ : list of (str or int)
        The machine ids seen in ``fit``, sorted.
    n_clips_ : dict of {str or int: int}
        Rows of ``X`` each machine's model was fitted on (before any ``normal_label``
        selection inside the model).

    See Also
    --------
    skaudio_ad.score_files : Score a large set of files in chunks, on a Dask cluster if given.
    sklearn.multioutput.MultiOutputRegressor : The same one-clone-per-part pattern for outputs.

    Notes
    -----
    With metadata routing enabled (``sklearn.set_config(enable_metadata_routing=True)``),
    ``machine_ids`` is requested by ``fit``, ``predict``, ``decision_function`` and
    ``score_samples`` by default, so a :class:`~sklearn.pipeline.Pipeline` ending in a
    ``PerMachineDetector`` routes it (``pipe.fit(X, machine_ids=ids)``). scikit-learn's
    scorers pass no metadata to the estimator's prediction methods, so a grid search *over*
    the fleet cannot score it per machine; tune each machine's model instead, by wrapping a
    :class:`~sklearn.model_selection.GridSearchCV` as ``estimator``.

    Examples
    --------
    >>> import numpy as np
    >>> from skaudio_ad import ConvAutoencoderDetector, PerMachineDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(24, 8, 16))  # (n_clips, n_mels, n_frames)
    >>> ids = ["pump"] * 12 + ["fan"] * 12
    >>> fleet = PerMachineDetector(ConvAutoencoderDetector(
    ...     max_epochs=1, hidden_channels=4, latent_dim=2, patch_frames=8,
    ...     validation_fraction=0.25, random_state=0))
    >>> fleet = fleet.fit(X, machine_ids=ids)
    >>> fleet.machine_ids_
    ['fan', 'pump']
    >>> fleet.score_samples(X[:2], machine_ids=["fan", "pump"]).shape
    (2,)
    >>> fleet.predict(X[:1], machine_ids=["valve"])
    Traceback (most recent call last):
    ...
    ValueError: machine_ids holds 'valve', which this PerMachineDetector was not fitted on; ...
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "score_samples"])],
        "n_jobs": [None, numbers.Integral],
        "verbose": ["verbose"],
    }

    # machine_ids is what routes a row: requested by default wherever a router calls us.
    __metadata_request__fit = {"machine_ids": True}
    __metadata_request__predict = {"machine_ids": True}
    __metadata_request__decision_function = {"machine_ids": True}

    def __init__(self, estimator, *, n_jobs=None, verbose=0):
        self.estimator = estimator
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags = inner.input_tags
        tags.non_deterministic = inner.non_deterministic
        return tags

    # ------------------------------------------------------------------ fitting

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, *, machine_ids, **fit_params):
        """Fit one clone of ``estimator`` per machine.

        Parameters
        ----------
        X : array-like of shape (n_clips, ...) or list of str or os.PathLike
            Clips of every machine, one row per clip: waveforms, spectrograms, features, or
            file paths when ``estimator`` reads files (a Pipeline starting with a
            :class:`~skaudio_ad.MelSpectrogramTransformer` does). On a cluster, paths must
            be readable by the workers.
        y : array-like of shape (n_clips,), default=None
            Passed, split per machine, to each model's ``fit`` (e.g. labels used with the
            detector's ``normal_label``).
        machine_ids : array-like of shape (n_clips,)
            The machine of each row, str or int ids (e.g. ``"id_00"``).
        **fit_params : dict
            Passed to each model's ``fit``, sample-aligned ones split per machine. With
            metadata routing enabled, routed as the inner estimator requests them.

        Returns
        -------
        self : PerMachineDetector
            The fitted fleet.

        Raises
        ------
        Exception
            Whatever a machine's fit raised, with a note naming the machine; on a cluster,
            e.g. ``distributed.scheduler.KilledWorker`` when a worker died on the same fit
            too often. Nothing is kept of a fit that failed for any machine: a previous fit's
            attributes are removed, not mixed with new ones.
        """
        for name in ("estimators_", "machine_ids_", "n_clips_"):
            vars(self).pop(name, None)
        n_rows = _num_samples(X)
        ids = _as_id_list(machine_ids, n_rows)
        if y is not None and _num_samples(y) != n_rows:
            raise ValueError(f"y has {_num_samples(y)} rows but X has {n_rows}.")
        if _routing_enabled():
            params = process_routing(self, "fit", **fit_params).estimator.fit
        else:
            params = fit_params
        rows = _rows_by_machine(ids)
        # Each machine's data travels as one tuple: joblib's Dask backend scatters large
        # weak-referenceable arguments (arrays) to a single worker, and a task whose
        # scattered input died with that worker is cancelled instead of retried. Inside a
        # tuple the data is part of the task, which the scheduler reruns elsewhere.
        tasks = [
            (
                clone(self.estimator),
                machine,
                (
                    _safe_indexing(X, index),
                    None if y is None else _safe_indexing(y, index),
                    _check_method_params(X, params, index),
                ),
            )
            for machine, index in rows.items()
        ]
        client = _active_dask_client()
        if client is not None:
            # joblib's Dask backend waits forever when a task has killed every worker it
            # ran on (joblib 1.6, distributed 2026.8): submit to its client directly, whose
            # gather raises KilledWorker instead.
            futures = client.map(_fit_one, *zip(*tasks, strict=True), pure=False)
            try:
                fitted = client.gather(futures)
            finally:
                client.cancel(futures)
        else:
            fitted = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
                delayed(_fit_one)(*task) for task in tasks
            )
        if len(fitted) != len(rows):  # a backend that lost results must not pass unnoticed
            raise RuntimeError(
                f"joblib returned {len(fitted)} fitted models for {len(rows)} machines; "
                "no model was kept."
            )
        self.estimators_ = dict(zip(rows, fitted, strict=True))
        self.machine_ids_ = list(rows)
        self.n_clips_ = {machine: len(index) for machine, index in rows.items()}
        return self

    def fit_predict(self, X, y=None, *, machine_ids, **fit_params):
        """Fit the fleet on ``X`` and return ``predict(X)``: +1 normal, -1 anomaly.

        Parameters
        ----------
        X : array-like of shape (n_clips, ...) or list of paths
            As in :meth:`fit`.
        y : array-like of shape (n_clips,), default=None
            As in :meth:`fit`.
        machine_ids : array-like of shape (n_clips,)
            The machine of each row.
        **fit_params : dict
            As in :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_clips,), dtype int
            +1 for normal rows, -1 for anomalies.
        """
        return self.fit(X, y, machine_ids=machine_ids, **fit_params).predict(
            X, machine_ids=machine_ids
        )

    # ------------------------------------------------------------------ scoring

    def score_samples(self, X, *, machine_ids):
        """Score of each row by its machine's model; higher = more normal.

        Parameters
        ----------
        X : array-like of shape (n_clips, ...) or list of paths
            Clips, as in :meth:`fit`.
        machine_ids : array-like of shape (n_clips,)
            The machine of each row; every id must be one of ``machine_ids_``.

        Returns
        -------
        scores : ndarray of shape (n_clips,), dtype float64
            Each model's ``score_samples``, in the order of the rows.
        """
        return self._route(X, machine_ids, "score_samples", np.float64)

    def decision_function(self, X, *, machine_ids):
        """``score_samples`` minus each machine's offset: negative = anomaly.

        Parameters
        ----------
        X : array-like of shape (n_clips, ...) or list of paths
            Clips, as in :meth:`fit`.
        machine_ids : array-like of shape (n_clips,)
            The machine of each row; every id must be one of ``machine_ids_``.

        Returns
        -------
        decision : ndarray of shape (n_clips,), dtype float64
            Each model's ``decision_function``, in the order of the rows.
        """
        return self._route(X, machine_ids, "decision_function", np.float64)

    def predict(self, X, *, machine_ids):
        """+1 (normal) or -1 (anomaly) for each row, by its machine's threshold.

        Parameters
        ----------
        X : array-like of shape (n_clips, ...) or list of paths
            Clips, as in :meth:`fit`.
        machine_ids : array-like of shape (n_clips,)
            The machine of each row; every id must be one of ``machine_ids_``.

        Returns
        -------
        labels : ndarray of shape (n_clips,), dtype int
            Each model's ``predict``, in the order of the rows.
        """
        return self._route(X, machine_ids, "predict", int)

    def _route(self, X, machine_ids, method, dtype):
        check_is_fitted(self)
        n_rows = _num_samples(X)
        ids = _as_id_list(machine_ids, n_rows)
        rows = _rows_by_machine(ids)
        unknown = [machine for machine in rows if machine not in self.estimators_]
        if unknown:
            raise ValueError(
                f"machine_ids holds {unknown[0]!r}, which this PerMachineDetector was not "
                f"fitted on; known machine ids: {self.machine_ids_}"
                + (f" (unknown: {unknown})" if len(unknown) > 1 else "")
                + ". Fit a model for it, or route its clips to a known machine."
            )
        out = np.empty(n_rows, dtype=dtype)
        for machine, index in rows.items():
            model = self.estimators_[machine]
            out[index] = getattr(model, method)(_safe_indexing(X, index))
        return out

    def _validate_state(self):
        """Raise ValueError saying what is wrong with a fitted (e.g. loaded) fleet.

        Checks that ``estimators_``, ``machine_ids_`` and ``n_clips_`` agree and that every
        machine's model can score; :func:`skaudio_ad.load` checks each model's own state
        (its detector's weights and statistics) too. An unfitted fleet passes.
        """
        if not hasattr(self, "estimators_"):
            return
        models = self.estimators_
        if not isinstance(models, dict) or not models:
            raise ValueError("estimators_ must be a non-empty dict {machine id: model}; got "
                             f"{type(models).__name__}.")
        ids = getattr(self, "machine_ids_", None)
        if not isinstance(ids, list) or ids != list(models):
            raise ValueError(f"machine_ids_ ({ids!r}) must list the keys of estimators_ "
                             f"({list(models)}) in order.")
        clips = getattr(self, "n_clips_", None)
        if not isinstance(clips, dict) or list(clips) != ids:
            raise ValueError("n_clips_ must be a dict with the same machine ids as "
                             "estimators_.")
        for machine, model in models.items():
            if not isinstance(machine, (str, int)) or isinstance(machine, bool):
                raise ValueError(f"machine ids must be str or int; got {machine!r}.")
            if not hasattr(model, "score_samples"):
                raise ValueError(f"the model of machine {machine!r} is a "
                                 f"{type(model).__name__}, which cannot score.")

    # ------------------------------------------------------------------ routing

    def get_metadata_routing(self):
        """Metadata routing of this object: ``machine_ids`` for itself, the rest inward.

        Returns
        -------
        routing : MetadataRouter
            A :class:`~sklearn.utils.metadata_routing.MetadataRouter` with this object's own
            requests and the inner estimator's ``fit`` requests.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(estimator=self.estimator, method_mapping=MethodMapping().add(
                caller="fit", callee="fit"))
        )

