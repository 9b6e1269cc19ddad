"""``skaudio-ad score``: score recordings with a saved model, one row per file."""

import sys
from pathlib import Path

from . import _fleet
from ._common import (
    EXIT_ANOMALY,
    EXIT_ERROR,
    EXIT_OK,
    QUIET,
    UserError,
    add_model_options,
    check_output_file,
    failure_log,
    load_model,
    number,
    score_files,
)

COLUMNS = ["path", "score", "decision", "anomaly"]
FLEET_COLUMNS = ["path", "machine", "score", "decision", "anomaly"]
#: Columns ``--locate`` adds.
LOCATION_COLUMNS = ["span_start", "span_end", "peak_time", "peak_error", "band_low_hz",
                    "band_high_hz", "summary"]


def register(add_parser):
    score = add_parser(
        "score", help="score recordings with a saved model",
        description="Score each INPUT file (folders are searched for .wav/.flac). Writes "
        "one row per file: path, score (score_samples, higher = more normal), decision "
        "(decision_function = score - offset_, negative = anomaly), anomaly (predict: yes/no); "
        "for a fleet model (fit --per-machine) also the machine whose model scored it.")
    score.add_argument("model", metavar="MODEL", help="model file from 'skaudio-ad fit'")
    score.add_argument("inputs", nargs="+", metavar="INPUT", help="audio file or folder")
    score.add_argument("--output", metavar="FILE",
                       help="write FILE.csv or FILE.json instead of CSV on stdout")
    score.add_argument("--fail-on-anomaly", action="store_true",
                       help="exit with status 1 if any file is anomalous")
    score.add_argument("--locate", action="store_true",
                       help="add per file the most anomalous span (s), its peak frame error, "
                       "the dominant frequency band (Hz) and a sentence saying so")
    score.add_argument("--frames", metavar="FILE.csv",
                       help="write every frame's error (path, frame, time, error) to FILE.csv")
    score.add_argument("--smoothing", type=number(float, 0), default=0.5, metavar="SECONDS",
                       help="moving average of the frame errors before --locate finds the span")
    add_model_options(score)
    _fleet.add_score_options(score)
    score.add_argument("--quiet", **QUIET)
    score.set_defaults(run=run)


def run(args):
    out_format = _check_output(args.output)
    if args.frames is not None:
        if not args.frames.lower().endswith(".csv"):
            raise UserError(f"--frames must name a .csv file; got {args.frames!r}.")
        check_output_file(args.frames, "frame errors", "--frames frames.csv")
    locate = args.locate or args.frames is not None
    model = load_model(args)
    if locate and _fleet.wants_fleet_path(args, model):
        raise UserError("--locate and --frames work with a single-machine model scored here "
                        f"(not a fleet, --machine or --scheduler); {args.model!r} with these "
                        "options is not one.")
    from ..io import find_audio

    failed, fail = failure_log("cannot score")
    paths = find_audio(args.inputs, on_error=fail)
    fleet = _fleet.is_fleet(model)
    if _fleet.wants_fleet_path(args, model):
        with _fleet.cluster(args.scheduler) as client:
            result = _fleet.score(args, model, paths, fail, client)
    else:
        result = score_files(model, paths, channel=args.channel, on_error=fail,
                             quiet=args.quiet, keep_features=locate)
    rows = [
        {"path": p, **({"machine": m} if fleet else {}), "score": s, "decision": d,
         "anomaly": bool(label == -1)}
        for p, m, s, d, label in zip(result["paths"], result.get("machine", result["paths"]),
                                     result["score"].tolist(), result["decision"].tolist(),
                                     result["label"].tolist(), strict=True)
    ]
    if locate:
        _add_locations(model, rows, result["S"], args, fail)
    _write(rows, args.output, out_format,
           (FLEET_COLUMNS if fleet else COLUMNS) + (LOCATION_COLUMNS if args.locate else []))
    if failed or not paths:
        return EXIT_ERROR
    if args.fail_on_anomaly and any(r["anomaly"] for r in rows):
        return EXIT_ANOMALY
    return EXIT_OK


def _check_output(output):
    if output is None:
        return None
    out_format = Path(output).suffix.lower().lstrip(".")
    if out_format not in ("csv", "json"):
        raise UserError(f"--output must end in .csv or .json; got {output!r}.")
    check_output_file(output, "scores", "--output scores.csv")
    return out_format


def _add_locations(model, rows, features, args, on_error):
    """``--locate``: the span fields of each row; ``--frames``: every frame's error.

    From the spectrograms already computed for the scores (no file is read twice), one clip
    at a time (one compiled shape).
    """
    import csv

    from .._locate import _locate_features

    frames_file = open(args.frames, "w", newline="") if args.frames else None
    try:
        frames = csv.writer(frames_file, lineterminator="\n") if frames_file else None
        if frames:
            frames.writerow(["path", "frame", "time", "error"])
        for row, S in zip(rows, features, strict=True):
            try:
                spans, errors, frame_seconds = _locate_features(model, S[None], args.smoothing)
            except ValueError as exc:
                on_error(row["path"], str(exc))
                continue
            if frames:
                for t, e in enumerate(errors[0].tolist()):
                    frames.writerow([row["path"], t, repr(round(t * frame_seconds, 6)), repr(e)])
            if args.locate:
                span = spans[0]
                summary = span.describe("unusual energy at" if row["anomaly"]
                                        else "normal; least typical:")
                row.update(span_start=span.start, span_end=span.end, peak_time=span.peak_time,
                           peak_error=span.peak_error, band_low_hz=span.band_low,
                           band_high_hz=span.band_high, summary=summary)
    finally:
        if frames_file:
            frames_file.close()


def _write(rows, output, out_format, columns):
    import csv
    import json

    if out_format == "json":
        with open(output, "w") as f:
            json.dump(rows, f, indent=1)
            f.write("\n")
        return
    f = sys.stdout if output is None else open(output, "w", newline="")
    try:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            # repr: the shortest text that reads back as the same float64.
            text = {"score": repr(r["score"]), "decision": repr(r["decision"]),
                    "anomaly": "yes" if r["anomaly"] else "no"}
            writer.writerow([text.get(c, r.get(c)) for c in columns])
        f.flush()
    finally:
        if f is not sys.stdout:
            f.close()
