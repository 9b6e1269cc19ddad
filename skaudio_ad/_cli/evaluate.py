"""``skaudio-ad evaluate``: measure a saved model on labelled recordings (1 = anomaly)."""

from pathlib import Path

from . import _fleet
from ._common import (
    EXIT_ERROR,
    EXIT_OK,
    QUIET,
    UserError,
    add_model_options,
    check_output_folder,
    failure_log,
    load_model,
    score_files,
)
from ._report import print_metrics, save_plots


def register(add_parser):
    ev = add_parser(
        "evaluate", help="measure a saved model on labelled recordings",
        description="Score labelled test recordings, print AUC, pAUC, F1, balanced accuracy "
        "and the confusion matrix, and save plots with --out.")
    ev.add_argument("model", metavar="MODEL", help="model file from 'skaudio-ad fit'")
    ev.add_argument("--normal", nargs="+", metavar="PATH", help="normal recordings")
    ev.add_argument("--anomaly", nargs="+", metavar="PATH", help="anomalous recordings")
    ev.add_argument("--mimii", metavar="ROOT", help="MIMII dataset root (its test split)")
    ev.add_argument("--dcase", metavar="ROOT", help="DCASE 2020 Task 2 root (test split)")
    ev.add_argument("--machine", metavar="TYPE", help="machine type for --mimii / --dcase")
    ev.add_argument("--machine-id", metavar="ID", help="only this machine id, e.g. id_00")
    ev.add_argument("--out", metavar="DIR", help="save the plots into this folder")
    add_model_options(ev)
    _fleet.add_score_options(ev, machine_flag=False)
    ev.add_argument("--quiet", **QUIET)
    ev.set_defaults(run=run)


def run(args):
    _check_sources(args)
    if args.out is not None:
        check_output_folder(args.out, "plots")
    if args.out is not None and args.scheduler is not None:
        raise UserError("--out plots are drawn from features computed here; evaluate without "
                        "--scheduler to save plots, or without --out on the cluster.")
    model = load_model(args)
    if _fleet.is_fleet(model) or args.scheduler is not None:
        return _run_fleet(args, model)
    failed, fail = failure_log("cannot score")
    paths, labels = _labelled_files(args, fail)
    label_of = dict(zip(paths, labels, strict=True))
    # The spectrograms are kept for the plots, so that no file is read twice.
    result = score_files(model, paths, channel=args.channel, on_error=fail, quiet=args.quiet,
                         keep_features=args.out is not None)
    import numpy as np

    y_true = np.asarray([label_of[p] for p in result["paths"]], dtype=int)
    _check_both_classes(y_true, len(paths))
    anomaly_score, threshold = -result["score"], -model[-1].offset_
    print_metrics(y_true, anomaly_score, result["label"], threshold, "Evaluation")
    if args.out is not None:
        _plots(args.out, model, result, y_true, anomaly_score, threshold)
    else:
        print("Pass --out DIR to save the plots.")
    return EXIT_ERROR if failed else EXIT_OK


def _run_fleet(args, model):
    """Evaluate a fleet (each file by its machine's model), or any model on a cluster."""
    import numpy as np

    from .. import metrics

    fleet = _fleet.is_fleet(model)
    if fleet and args.out is not None:
        raise UserError("--out plots are drawn for single-machine models; evaluate a fleet "
                        "without --out, or one machine's model from Python "
                        "(fleet.estimators_[ID]).")
    failed, fail = failure_log("cannot score")
    paths, labels = _labelled_files(args, fail)
    label_of = dict(zip(paths, labels, strict=True))
    with _fleet.cluster(args.scheduler) as client:
        result = _fleet.score(args, model, paths, fail, client)
    y_true = np.asarray([label_of[p] for p in result["paths"]], dtype=int)
    _check_both_classes(y_true, len(paths))
    if not fleet:
        print_metrics(y_true, -result["score"], result["label"], -model[-1].offset_,
                      "Evaluation")
        return EXIT_ERROR if failed else EXIT_OK
    # Pooled over machines on the decision scale, where each machine's threshold is 0.
    print_metrics(y_true, -result["decision"], result["label"], 0.0,
                  "Evaluation (all machines, decision scale)")
    ids = np.asarray([str(m) for m in result["machine"]])
    print("Per machine:")
    for machine in sorted(set(ids.tolist())):
        mine = ids == machine
        y, anomaly = y_true[mine], result["label"][mine] == -1
        auc = (f"AUC {metrics.anomaly_roc_auc(y, -result['decision'][mine]):.3f}"
               if len(set(y.tolist())) == 2 else "AUC undefined (one class)")
        print(f"  {machine}: {auc}, F1 {metrics.anomaly_f1(y, anomaly):.3f}, "
              f"{np.sum(y == 0)} normal, {np.sum(y == 1)} anomalous")
    return EXIT_ERROR if failed else EXIT_OK


def _check_both_classes(y_true, n_files):
    import numpy as np

    if len(set(y_true.tolist())) < 2:
        raise UserError(
            f"evaluation needs scored normal and anomalous clips; got {np.sum(y_true == 0)} "
            f"normal and {np.sum(y_true == 1)} anomalous of {n_files} files."
        )


def _check_sources(args):
    sources = [args.normal is not None or args.anomaly is not None, args.mimii is not None,
               args.dcase is not None]
    if sum(sources) != 1:
        raise UserError("give exactly one of --normal/--anomaly, --mimii or --dcase.")
    if sources[0] and (args.normal is None or args.anomaly is None):
        raise UserError("--normal and --anomaly go together: give both.")
    if not sources[0] and args.machine is None:
        raise UserError("--mimii and --dcase need --machine TYPE (e.g. fan, valve, ToyCar).")


def _labelled_files(args, fail):
    """(paths, labels) of the labelled test clips named by the arguments, 1 = anomaly."""
    from ..io import find_audio

    if args.normal is not None:
        normal = find_audio(args.normal, on_error=fail)
        anomalous = find_audio(args.anomaly, on_error=fail)
        return normal + anomalous, [0] * len(normal) + [1] * len(anomalous)
    from ..datasets import load_dcase2020, load_mimii

    loader, root = (load_mimii, args.mimii) if args.mimii is not None else (load_dcase2020,
                                                                          args.dcase)
    data = loader(root, machine_type=args.machine, machine_id=args.machine_id)
    keep = (data.split == "test") & (data.target >= 0)  # DCASE eval clips carry no label
    return list(data.filenames[keep]), list(data.target[keep])


def _plots(out, model, result, y_true, anomaly_score, threshold):
    import numpy as np

    normal_scores = np.where(y_true == 0, anomaly_score, np.nan)
    i_normal = int(np.nanargmin(np.abs(normal_scores - np.nanmedian(normal_scores))))
    i_anomalous = int(np.argmax(np.where(y_true == 1, anomaly_score, -np.inf)))
    shown = []
    for i, kind in ((i_normal, "normal clip of median score"),
                    (i_anomalous, "highest-scoring anomalous clip")):
        S = result["S"][i]
        errors = model[-1].frame_errors(S[None])[0]
        title = f"{kind}, score {anomaly_score[i]:.3g}:\n{Path(result['paths'][i]).name}"
        shown.append((S, errors, title, None, None))
    groups = {"test normal": anomaly_score[y_true == 0],
              "test anomalous": anomaly_score[y_true == 1]}
    written = save_plots(out, y_true=y_true, anomaly_score=anomaly_score,
                         y_pred=result["label"], groups=groups, model=model, normal=shown[0],
                         anomalous=shown[1])
    print(f"Plots saved in {out}:\n" + "".join(f"  {p}\n" for p in written), end="")
