"""Fleet commands of ``skaudio-ad``: ``fit --per-machine``, and ``score`` / ``evaluate`` of a
fleet model (or of any model on a Dask cluster with ``--scheduler``).

Machine ids come from the folder layout: ``fit ROOT --per-machine`` makes each immediate
subfolder of ROOT a machine (MIMII's ``id_XX`` folders; a ``normal/`` subfolder, when there is
one, holds the training clips), and DCASE's flat ``train/`` folders name the machine in each
file (``normal_id_XX_NNNNNNNN.wav``). Scoring routes each file by the ``id_XX`` in its name or
the nearest enclosing folder named like a machine of the model, unless ``--machine`` says.
"""

import contextlib
import csv
import json
import re
import sys
from pathlib import Path

import numpy as np

from . import _cli as base

_NAME_ID = re.compile(r"(?:^|_)(id_\d+)(?:_|$)")


def add_fit_arguments(parser):
    """The fleet options of ``fit``."""
    parser.add_argument("--per-machine", action="store_true",
                        help="train one model per machine: each immediate subfolder of "
                        "INPUT is a machine (MIMII id_XX folders), or the id_XX in the file "
                        "names of a DCASE train/ folder; writes one fleet model file")
    cluster = parser.add_mutually_exclusive_group()
    _add_scheduler(cluster)
    cluster.add_argument("--n-jobs", type=base._number(int, 0), default=None, metavar="N",
                         help="with --per-machine: machines fitted at once in local processes")


def add_score_arguments(parser, *, machine_flag="--machine"):
    """The fleet options of ``score`` (``--machine``) and ``evaluate`` (``--machine-id``)."""
    if machine_flag is not None:
        parser.add_argument(machine_flag, metavar="ID", dest="machine_id",
                            help="score every file with this machine's model of a fleet "
                            "(default: the id_XX in its name, or its folder)")
    _add_scheduler(parser)


def _add_scheduler(parser):
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a running Dask scheduler (e.g. tcp://10.0.0.5:8786) whose "
                        "workers do the work; they must read the same files")


def is_fleet(model):
    from ._fleet import PerMachineDetector

    return isinstance(model, PerMachineDetector)


def handles_fit(args):
    """Whether ``fit`` with ``args`` is a fleet run (or asks for one by mistake)."""
    return args.per_machine or args.scheduler is not None or args.n_jobs is not None


def handles(args, model):
    """Whether ``score`` / ``evaluate`` of ``model`` with ``args`` is a fleet run."""
    forced = args.command == "score" and args.machine_id is not None
    return is_fleet(model) or args.scheduler is not None or forced


@contextlib.contextmanager
def _cluster(address):
    """A Dask client of the scheduler at ``address`` (None: no client)."""
    if address is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise base._UserError(
            "--scheduler needs Dask: pip install 'skaudio_ad[dask]'") from None
    try:
        client = Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise base._UserError(
            f"cannot connect to the Dask scheduler at {address!r}: {base._one_line(exc)}"
        ) from exc
    with client:
        yield client


# ------------------------------------------------------------------------- fit


def _audio_in(folder):
    return sorted(str(p) for p in Path(folder).rglob("*")
                  if p.suffix.lower() in base.AUDIO_SUFFIXES and p.is_file())


def _machines_under(root, skip):
    """``{machine id: [paths]}`` for one ROOT of ``fit --per-machine``."""
    root = Path(root)
    if not root.is_dir():
        raise base._UserError(f"--per-machine needs folders; {str(root)!r} is not one.")
    flat = root / "train" if (root / "train").is_dir() else root
    named = [p for p in sorted(flat.iterdir())
             if p.is_file() and p.suffix.lower() in base.AUDIO_SUFFIXES
             and _NAME_ID.search(p.stem)]
    machines = {}
    if named:  # DCASE: normal_id_00_00000000.wav in a flat train/ folder
        for path in named:
            if path.stem.startswith("anomaly"):
                skip(str(path), "its name marks it anomalous; training uses normal clips")
                continue
            machines.setdefault(_NAME_ID.search(path.stem)[1], []).append(str(path))
        return machines
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        inner = [p.name for p in folder.iterdir() if p.is_dir()]
        if any(re.fullmatch(r"id_\d+", name) for name in inner):
            raise base._UserError(
                f"{str(folder)!r} holds machine folders ({', '.join(sorted(inner)[:4])}...): "
                f"give that folder as ROOT, e.g. `fit {folder} --per-machine`."
            )
        normal = folder / "normal"
        paths = _audio_in(normal if normal.is_dir() else folder)
        if paths:
            machines[folder.name] = paths
        else:
            skip(str(folder), f"no {'/'.join(base.AUDIO_SUFFIXES)} files for this machine")
    for path in root.iterdir():
        if path.is_file() and path.suffix.lower() in base.AUDIO_SUFFIXES:
            skip(str(path), "not in a machine folder (ROOT/MACHINE/...wav)")
    return machines


def _usable(paths, *, sr, duration, n_fft, skip):
    """The paths whose header reads and that last at least one window, and their lengths."""
    import soundfile as sf

    kept, lengths = [], []
    for path in paths:
        try:
            info = sf.info(path)
        except (RuntimeError, OSError) as exc:
            skip(path, base._one_line(exc))
            continue
        n = round(duration * sr) if duration is not None else round(info.duration * sr)
        if info.duration * sr < n_fft and duration is None:
            skip(path, f"too short: {info.duration:.3f} s, less than one analysis window "
                 f"(n_fft = {n_fft} samples at {sr} Hz)")
            continue
        kept.append(path)
        lengths.append(n)
    return kept, lengths


def cmd_fit(args):
    """``skaudio-ad fit ROOT... --per-machine -o fleet.skops``."""
    import joblib
    from sklearn.pipeline import Pipeline

    from ._detector import ConvAutoencoderDetector
    from ._features import MelSpectrogramTransformer
    from ._fleet import PerMachineDetector
    from ._persistence import save

    if not args.per_machine:
        raise base._UserError("--scheduler and --n-jobs spread the machines of a fleet over "
                              "workers: add --per-machine (one model per machine folder).")
    folder = Path(args.output).absolute().parent
    if not folder.is_dir() or Path(args.output).is_dir():
        raise base._UserError(f"cannot write the model to {args.output!r}: give a file name in "
                              "an existing folder, e.g. -o models/fleet.skops.")
    skipped, skip = base._failure_log("skipping")
    machines = {}
    for root in args.inputs:
        for machine, paths in _machines_under(root, skip).items():
            if machine in machines:
                raise base._UserError(
                    f"machine id {machine!r} is found under two inputs ({root!r} and an "
                    "earlier one); fit one fleet per machine type, or rename the folders."
                )
            machines[machine] = paths
    mel = MelSpectrogramTransformer(sr=args.sr, n_mels=args.n_mels, channel=args.channel,
                                    duration=args.duration)
    paths, ids = [], []
    for machine, found in machines.items():
        kept, lengths = _usable(found, sr=args.sr, duration=args.duration, n_fft=mel.n_fft,
                                skip=skip)
        if len(set(lengths)) > 1:
            raise base._UserError(
                f"the files of machine {machine!r} have different lengths ("
                f"{min(lengths) / args.sr:.3f} to {max(lengths) / args.sr:.3f} s); pass "
                "--duration SECONDS to crop or zero-pad every file to one length."
            )
        paths += kept
        ids += [machine] * len(kept)
    if not paths:
        raise base._UserError(
            f"no usable training file for any machine under {args.inputs}; give folders "
            "with one subfolder of .wav/.flac recordings per machine (ROOT/MACHINE/...)."
        )
    detector = ConvAutoencoderDetector(
        latent_dim=args.latent_dim, threshold=args.threshold, max_epochs=args.epochs,
        patch_frames=args.patch_frames, hidden_channels=args.hidden_channels,
        validation_fraction=args.validation_fraction, random_state=args.seed, verbose=0,
    )
    fleet = PerMachineDetector(Pipeline([("mel", mel), ("detector", detector)]),
                               n_jobs=args.n_jobs, verbose=0 if args.quiet else 5)
    with _cluster(args.scheduler) as client:
        backend = (joblib.parallel_config(backend="dask", client=client) if client
                   else contextlib.nullcontext())
        with backend:
            fleet.fit(paths, machine_ids=ids)
    save(fleet, args.output)
    lines = [f"Trained {len(fleet.machine_ids_)} machine model(s) on {len(paths)} clips"
             + (f"; skipped {len(skipped)} unusable input(s)" if skipped else "") + ":"]
    for machine, model in fleet.estimators_.items():
        d = model[-1]
        lines.append(f"  {machine}: {fleet.n_clips_[machine]} clips, {d.n_epochs_} epochs "
                     f"(kept {d.best_epoch_}), anomaly score > {-d.offset_:.4g}")
    print("\n".join(lines) + f"\nSaved fleet model to {args.output}", flush=True)
    return base.EXIT_OK


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


def _route(args, model, paths, fail):
    """(paths, machine ids) of the files that can be routed; the others reported."""
    if not is_fleet(model):
        if args.command == "score" and args.machine_id is not None:
            raise base._UserError(
                f"{args.model!r} is a single-machine model; --machine/--machine-id ID "
                "chooses a model of a fleet (from `fit --per-machine`)."
            )
        return paths, None
    known = {str(m): m for m in model.machine_ids_}
    if args.machine_id is not None:
        if args.machine_id not in known:
            raise base._UserError(f"--machine {args.machine_id!r} is not in the fleet; known "
                                  f"machine ids: {sorted(known)}.")
        return paths, [known[args.machine_id]] * len(paths)
    routed, ids = [], []
    for path in paths:
        try:
            ids.append(known[machine_of(path, known)])
            routed.append(path)
        except ValueError as exc:
            fail(path, str(exc))
    return routed, ids


def _with_channel(model, channel):
    """``model`` reading ``channel`` (None: as fitted)."""
    import copy

    if channel is None:
        return model
    model = copy.deepcopy(model)
    for pipeline in (model.estimators_.values() if is_fleet(model) else [model]):
        pipeline[0].set_params(channel=channel)
    return model


def _offsets(model, ids):
    if not is_fleet(model):
        return np.full(len(ids), model[-1].offset_)
    return np.array([model.estimators_[m][-1].offset_ for m in ids], dtype=np.float64)


def _score(args, model, paths, fail, client):
    from ._archive import score_files

    routed, ids = _route(args, model, paths, fail)
    scores = score_files(_with_channel(model, args.channel), routed, machine_ids=ids,
                         client=client, on_error=fail, progress=not args.quiet)
    ids = [None] * len(routed) if ids is None else ids
    ok = ~np.isnan(scores)
    routed = [p for p, good in zip(routed, ok, strict=True) if good]
    ids = [m for m, good in zip(ids, ok, strict=True) if good]
    scores = scores[ok]
    return routed, ids, scores, scores - _offsets(model, ids)


def cmd_score(args, model):
    """``skaudio-ad score MODEL INPUT...`` for a fleet, or on a cluster."""
    failed, fail = base._failure_log("cannot score")
    paths = base._collect_audio(args.inputs, fail)
    with _cluster(args.scheduler) as client:
        scored, ids, scores, decisions = _score(args, model, paths, fail, client)
    fleet = is_fleet(model)
    rows = []
    for p, m, s, d in zip(scored, ids, scores.tolist(), decisions.tolist(), strict=True):
        row = {"path": p, "machine": m} if fleet else {"path": p}
        rows.append({**row, "score": s, "decision": d, "anomaly": bool(d < 0)})
    if args.output is not None and args.output.lower().endswith(".json"):
        with open(args.output, "w") as f:
            json.dump(rows, f, indent=1)
            f.write("\n")
    else:
        f = sys.stdout if args.output is None else open(args.output, "w", newline="")
        try:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(list(rows[0]) if rows else
                            ["path"] + ["machine"] * fleet + ["score", "decision", "anomaly"])
            for r in rows:
                # repr: the shortest text that reads back as the same float64.
                writer.writerow([r["path"]] + [r["machine"]] * fleet + [
                    repr(r["score"]), repr(r["decision"]), "yes" if r["anomaly"] else "no"])
        finally:
            if f is not sys.stdout:
                f.close()
    if failed or not paths:
        return base.EXIT_ERROR
    if args.fail_on_anomaly and any(r["anomaly"] for r in rows):
        return base.EXIT_ANOMALY
    return base.EXIT_OK


def cmd_evaluate(args, model):
    """``skaudio-ad evaluate MODEL ...`` for a fleet, or on a cluster."""
    from sklearn.metrics import roc_auc_score

    if args.out is not None:
        raise base._UserError(
            "--out plots are drawn for single-machine models; evaluate a fleet without --out, "
            "or one machine's model from Python (fleet.estimators_[ID])."
        )
    failed, fail = base._failure_log("cannot score")
    paths, labels = base._evaluation_files(args, fail)
    label_of = dict(zip(paths, labels, strict=True))
    with _cluster(args.scheduler) as client:
        scored, ids, _, decisions = _score(args, model, paths, fail, client)
    y_true = np.asarray([label_of[p] for p in scored], dtype=int)
    if len(set(y_true.tolist())) < 2:
        raise base._UserError(
            f"evaluation needs scored normal and anomalous clips; got {np.sum(y_true == 0)} "
            f"normal and {np.sum(y_true == 1)} anomalous of {len(paths)} files."
        )
    # Pooled over machines on the decision scale: each machine's own threshold sits at 0.
    base._print_metrics(y_true, -decisions, 0.0, "Evaluation (all machines, decision scale)")
    if is_fleet(model):
        ids = np.asarray([str(m) for m in ids])
        print("Per machine:")
        for machine in sorted(set(ids)):
            y = y_true[ids == machine]
            auc = (f"AUC {roc_auc_score(y, -decisions[ids == machine]):.3f}"
                   if len(set(y.tolist())) == 2 else "AUC undefined (one class)")
            print(f"  {machine}: {auc}, {np.sum(y == 0)} normal, {np.sum(y == 1)} anomalous")
    return base.EXIT_ERROR if failed else base.EXIT_OK
