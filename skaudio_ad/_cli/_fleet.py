"""What the commands need for fleets (:class:`~skaudio_ad.PerMachineDetector`) and clusters:
the options, a Dask client, machine ids from the folder layout, and routing files to models.

Machine ids come from the folder layout: ``fit ROOT --per-machine`` makes each immediate
subfolder of ROOT a machine (MIMII's ``id_XX`` folders; a ``normal/`` subfolder, when there is
one, holds the training clips), and DCASE's flat ``train/`` folders name the machine in each
file (``normal_id_XX_NNNNNNNN.wav``). Scoring routes each file by the ``id_XX`` in its name or
the nearest enclosing folder named like a machine of the model, unless ``--machine`` says.

Imports nothing heavy at module level (see the package docstring).
"""

import contextlib
import re
from pathlib import Path

from ._common import UserError, number, one_line

_NAME_ID = re.compile(r"(?:^|_)(id_\d+)(?:_|$)")
_MACHINE_FOLDER = re.compile(r"id_\d+")


# ------------------------------------------------------------------------- options


def add_fit_options(parser):
    """``--per-machine``, ``--scheduler`` and ``--n-jobs`` of ``fit``."""
    parser.add_argument("--per-machine", action="store_true",
                        help="train one model per machine: each immediate subfolder of "
                        "INPUT is a machine (MIMII id_XX folders), or the id_XX in the file "
                        "names of a DCASE train/ folder; writes one fleet model file")
    cluster = parser.add_mutually_exclusive_group()
    _add_scheduler(cluster)
    cluster.add_argument("--n-jobs", type=number(int, 0), default=None, metavar="N",
                         help="with --per-machine: machines fitted at once in local processes")


def add_score_options(parser, *, machine_flag=True):
    """``--machine`` (``score`` only) and ``--scheduler`` of the commands that score."""
    if machine_flag:
        parser.add_argument("--machine", metavar="ID", dest="machine_id",
                            help="score every file with this machine's model of a fleet "
                            "(default: the id_XX in its name, or its folder)")
    _add_scheduler(parser)


def _add_scheduler(parser):
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a running Dask scheduler (e.g. tcp://10.0.0.5:8786) whose "
                        "workers do the work; they must read the same files")


def is_fleet(model):
    from .._fleet import PerMachineDetector

    return isinstance(model, PerMachineDetector)


@contextlib.contextmanager
def cluster(address):
    """A Dask client of the scheduler at ``address`` (None: no client)."""
    if address is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise UserError("--scheduler needs Dask: pip install 'skaudio_ad[dask]'") from None
    try:
        client = Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UserError(
            f"cannot connect to the Dask scheduler at {address!r}: {one_line(exc)}"
        ) from exc
    with client:
        yield client


# ------------------------------------------------------------------------- fit


def find_machines(inputs, skip):
    """``{machine id: [paths]}`` of the ROOTs of ``fit --per-machine``; files through
    :func:`skaudio_ad.io.find_audio`, problems to ``skip(path, reason)``."""
    machines = {}
    for root in inputs:
        for machine, paths in _machines_under(root, skip).items():
            if machine in machines:
                raise UserError(
                    f"machine id {machine!r} is found under two inputs ({root!r} and an "
                    "earlier one); fit one fleet per machine type, or rename the folders."
                )
            machines[machine] = paths
    return machines


def _machines_under(root, skip):
    from ..io import AUDIO_SUFFIXES, find_audio

    root = Path(root)
    if not root.is_dir():
        raise UserError(f"--per-machine needs folders; {str(root)!r} is not one.")
    flat = root / "train" if (root / "train").is_dir() else root
    named = [p for p in sorted(flat.iterdir()) if p.suffix.lower() in AUDIO_SUFFIXES
             and _NAME_ID.search(p.stem)]
    machines = {}
    if named:  # DCASE: normal_id_00_00000000.wav in a flat train/ folder
        for path in find_audio(named, on_error=skip):
            name = Path(path).stem
            if name.startswith("anomaly"):
                skip(path, "its name marks it anomalous; training uses normal clips")
                continue
            machines.setdefault(_NAME_ID.search(name)[1], []).append(path)
        return machines
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        inner = [p.name for p in folder.iterdir() if p.is_dir()]
        if any(_MACHINE_FOLDER.fullmatch(name) for name in inner):
            raise UserError(
                f"{str(folder)!r} holds machine folders ({', '.join(sorted(inner)[:4])}...): "
                f"give that folder as ROOT, e.g. `fit {folder} --per-machine`."
            )
        normal = folder / "normal"
        paths = find_audio([normal if normal.is_dir() else folder], on_error=skip)
        if paths:
            machines[folder.name] = paths
    for path in root.iterdir():
        if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES:
            skip(str(path), "not in a machine folder (ROOT/MACHINE/...wav)")
    return machines


# ------------------------------------------------------------------------- score


def machine_of(path, known):
    """The machine id of ``path`` among ``known``, or ValueError saying why there is none."""
    path = Path(path)
    match = _NAME_ID.search(path.stem)
    candidates = ([match[1]] if match else []) + [p.name for p in path.parents]
    for name in candidates:
        if name in known:
            return name
    said = f" (its name says {match[1]!r})" if match else ""
    raise ValueError(
        f"no machine of the fleet matches its name or folders{said}; known machine ids: "
        f"{sorted(known)}. Pass --machine ID to choose one."
    )


def route(args, model, paths, fail):
    """``(paths, machine ids)`` of the files that can be routed (ids None for a single
    model); the others go to ``fail``."""
    # score --machine ID; evaluate --machine-id ID, which also selects a dataset's files.
    machine = getattr(args, "machine_id", None)
    if not is_fleet(model):
        if machine is not None and args.command == "score":
            raise UserError(f"{args.model!r} is a single-machine model; --machine ID chooses "
                            "a model of a fleet (from `fit --per-machine`).")
        return paths, None
    known = {str(m): m for m in model.machine_ids_}
    if machine is not None:
        if machine not in known:
            raise UserError(f"--machine {machine!r} is not in the fleet; known machine ids: "
                            f"{sorted(known)}.")
        return paths, [known[machine]] * len(paths)
    routed, ids = [], []
    for path in paths:
        try:
            ids.append(known[machine_of(path, known)])
            routed.append(path)
        except ValueError as exc:
            fail(path, str(exc))
    return routed, ids


def score(args, model, paths, fail, client):
    """Like :func:`._common.score_files` for a fleet or on a cluster, through
    :func:`skaudio_ad.score_files`; adds ``"machine"`` (None for a single model)."""
    import numpy as np

    from .._archive import score_files

    routed, ids = route(args, model, paths, fail)
    out = {"paths": [], "machine": [], "score": np.empty(0), "decision": np.empty(0),
           "label": np.empty(0, dtype=int)}
    if not routed:
        return out
    values = score_files(_with_channel(model, args.channel), routed, machine_ids=ids,
                         method=("score_samples", "decision_function", "predict"),
                         client=client, on_error=fail, progress=not args.quiet)
    ok = ~np.isnan(values).any(axis=1)
    ids = [None] * len(routed) if ids is None else ids
    out["paths"] = [p for p, good in zip(routed, ok, strict=True) if good]
    out["machine"] = [m for m, good in zip(ids, ok, strict=True) if good]
    out["score"], out["decision"] = values[ok, 0], values[ok, 1]
    out["label"] = values[ok, 2].astype(int)
    return out


def _with_channel(model, channel):
    """``model`` reading ``channel`` (None: as fitted)."""
    import copy

    if channel is None:
        return model
    model = copy.deepcopy(model)
    for pipeline in (model.estimators_.values() if is_fleet(model) else [model]):
        pipeline[0].set_params(channel=channel)
    return model


def wants_fleet_path(args, model):
    """Whether ``score`` / ``evaluate`` goes through :func:`score` (a fleet, a cluster, or
    ``--machine``)."""
    return (is_fleet(model) or args.scheduler is not None
            or getattr(args, "machine_id", None) is not None and args.command == "score")


__all__ = ["add_fit_options", "add_score_options", "cluster", "find_machines", "is_fleet",
           "machine_of", "route", "score", "wants_fleet_path"]
