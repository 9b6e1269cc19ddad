"""PerMachineDetector and score_files, sequentially and on a real local Dask cluster."""

import csv
import json
import os
import pickle

import joblib
import numpy as np
import pytest
import soundfile as sf
from sklearn import config_context
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import Pipeline

import skaudio_ad
from skaudio_ad import (
    ConvAutoencoderDetector,
    MelSpectrogramTransformer,
    PerMachineDetector,
    score_files,
)
from skaudio_ad.datasets import make_machine_sounds

SR, DURATION, N_CLIPS = 16000, 0.5, 10
MACHINES = ("fan", "pump", "valve")


def _pipeline(**detector):
    params = dict(max_epochs=2, hidden_channels=4, latent_dim=2, patch_frames=8,
                  validation_fraction=0.3, random_state=0)
    params.update(detector)
    return Pipeline([("mel", MelSpectrogramTransformer(n_mels=16)),
                     ("detector", ConvAutoencoderDetector(**params))])


def _fleet_data():
    clips, ids = [], []
    for seed, machine in enumerate(MACHINES):
        X, _ = make_machine_sounds(N_CLIPS, 0, machine=machine, duration=DURATION,
                                   random_state=seed)
        clips.append(X)
        ids += [machine] * len(X)
    # Interleave the machines, as a plant's recordings arrive.
    order = np.random.default_rng(0).permutation(len(ids))
    return np.concatenate(clips)[order], np.asarray(ids)[order]


X, IDS = _fleet_data()


@pytest.fixture(scope="module")
def fleet():
    """The sequential fit every distributed fit is compared with."""
    return PerMachineDetector(_pipeline()).fit(X, machine_ids=IDS)


@pytest.fixture(scope="module")
def wav_paths(tmp_path_factory):
    """X written as float WAV files (read back exactly), one folder per machine."""
    root = tmp_path_factory.mktemp("plant")
    paths = []
    for i, (clip, machine) in enumerate(zip(X, IDS, strict=True)):
        folder = root / machine
        folder.mkdir(exist_ok=True)
        paths.append(str(folder / f"clip_{i:03d}.wav"))
        sf.write(paths[-1], clip, SR, subtype="FLOAT")
    return paths


@pytest.fixture(scope="module")
def client():
    """A real local cluster of 2 spawned worker processes, 1 thread each (paid once)."""
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    import dask

    # One retry: a worker killed once is survived, one killed on every attempt fails fast.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                           dashboard_address=None)
    with cluster, distributed.Client(cluster) as c:
        yield c


# ---------------------------------------------------------------------- the estimator


def test_one_model_per_machine_and_routing(fleet):
    assert fleet.machine_ids_ == sorted(MACHINES)
    assert set(fleet.estimators_) == set(MACHINES)
    assert fleet.n_clips_ == {m: N_CLIPS for m in MACHINES}
    assert len({id(model) for model in fleet.estimators_.values()}) == len(MACHINES)
    scores = fleet.score_samples(X, machine_ids=IDS)
    decision = fleet.decision_function(X, machine_ids=IDS)
    labels = fleet.predict(X, machine_ids=IDS)
    assert scores.dtype == np.float64 and scores.shape == (len(X),)
    assert labels.dtype.kind == "i" and set(labels) <= {-1, 1}
    for machine, model in fleet.estimators_.items():
        rows = IDS == machine
        # Each row went to its own machine's model, in the order of the rows.
        np.testing.assert_array_equal(scores[rows], model.score_samples(X[rows]))
        np.testing.assert_array_equal(scores[rows] - model[-1].offset_, decision[rows])
        np.testing.assert_array_equal(labels[rows], model.predict(X[rows]))
    # The models differ: the same clip scores differently on another machine's model.
    other = fleet.score_samples(X, machine_ids=np.where(IDS == "fan", "pump", "fan"))
    assert not np.allclose(other, scores)


def test_each_model_equals_a_model_fitted_alone(fleet):
    rows = IDS == "pump"
    alone = _pipeline().fit(X[rows])
    np.testing.assert_array_equal(fleet.estimators_["pump"].score_samples(X[rows]),
                                  alone.score_samples(X[rows]))


def test_unknown_machine_id_names_it_and_the_known_ones(fleet):
    with pytest.raises(ValueError, match=r"'slider'.*known machine ids: \['fan', 'pump', "
                       r"'valve'\]"):
        fleet.score_samples(X[:2], machine_ids=["fan", "slider"])
    with pytest.raises(ValueError, match="'slider'"):
        fleet.predict(X[:1], machine_ids=["slider"])


@pytest.mark.parametrize("machine_ids, match", [
    (None, "machine_ids is required"),
    ("fan", "single value"),
    (["fan"] * 3, "3 ids but X has 30 rows"),
    (["fan", 1] * 15, "mixes str and int"),
    ([1.5] * 30, "str or int ids"),
])
def test_bad_machine_ids(machine_ids, match):
    with pytest.raises(ValueError, match=match):
        PerMachineDetector(_pipeline()).fit(X, machine_ids=machine_ids)


def test_int_ids_and_normal_label_per_machine():
    rng = np.random.default_rng(1)
    S = rng.normal(size=(24, 8, 16)).astype(np.float32)
    y = np.tile([0, 0, 1], 8)  # every third clip is labelled anomalous
    S[y == 1] += 3.0
    ids = np.repeat([3, 7], 12)
    detector = ConvAutoencoderDetector(max_epochs=1, hidden_channels=4, latent_dim=2,
                                       patch_frames=8, random_state=0, normal_label=0,
                                       validation_fraction=0.4)
    labelled = PerMachineDetector(detector).fit(S, y, machine_ids=ids)
    normal_only = PerMachineDetector(clone(detector).set_params(normal_label=None)).fit(
        S[y == 0], machine_ids=ids[y == 0])
    assert labelled.machine_ids_ == [3, 7]
    np.testing.assert_array_equal(labelled.score_samples(S, machine_ids=ids),
                                  normal_only.score_samples(S, machine_ids=ids))


def test_clone_params_and_pickle(fleet):
    params = fleet.get_params()
    assert params["estimator__detector__max_epochs"] == 2 and params["n_jobs"] is None
    copy = clone(fleet).set_params(n_jobs=2, estimator__detector__max_epochs=5)
    assert copy.n_jobs == 2 and copy.estimator[-1].max_epochs == 5
    assert not hasattr(copy, "estimators_") and fleet.estimator[-1].max_epochs == 2
    loaded = pickle.loads(pickle.dumps(fleet))
    np.testing.assert_array_equal(loaded.score_samples(X, machine_ids=IDS),
                                  fleet.score_samples(X, machine_ids=IDS))


def test_save_and_load(fleet, tmp_path):
    path = tmp_path / "fleet.skops"
    skaudio_ad.save(fleet, path)
    loaded = skaudio_ad.load(path)  # no trusted=: a fleet holds safe types only
    assert isinstance(loaded, PerMachineDetector) and loaded.machine_ids_ == fleet.machine_ids_
    np.testing.assert_array_equal(loaded.score_samples(X, machine_ids=IDS),
                                  fleet.score_samples(X, machine_ids=IDS))


def test_load_checks_every_machine_model(fleet, tmp_path):
    from skaudio_ad._persistence import _write_model_file

    path = tmp_path / "damaged.skops"
    damaged = pickle.loads(pickle.dumps(fleet))
    damaged.estimators_["pump"][-1].offset_ = float("nan")
    with pytest.raises(ValueError, match=r"not saved.*ConvAutoencoderDetector.*offset_"):
        skaudio_ad.save(damaged, path)
    assert not path.exists()
    _write_model_file(damaged, path)  # damaged on disk, as save() never writes it
    with pytest.raises(skaudio_ad.exceptions.ModelFileError,
                       match=r"ConvAutoencoderDetector is unusable.*offset_"):
        skaudio_ad.load(path)
    damaged = pickle.loads(pickle.dumps(fleet))
    damaged.machine_ids_ = ["fan", "pump"]  # one machine fewer than estimators_
    with pytest.raises(ValueError, match=r"not saved.*PerMachineDetector.*machine_ids_"):
        skaudio_ad.save(damaged, path)
    _write_model_file(damaged, path)
    with pytest.raises(skaudio_ad.exceptions.ModelFileError,
                       match=r"PerMachineDetector is unusable.*machine_ids_"):
        skaudio_ad.load(path)


def test_files_name_the_public_type_and_the_private_name_still_loads(fleet, tmp_path):
    import zipfile

    from skaudio_ad import _persistence

    def schema(path):
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("schema.json"))

    path = tmp_path / "fleet.skops"
    skaudio_ad.save(fleet, path)
    top = schema(path)
    assert (top["__module__"], top["__class__"]) == ("skaudio_ad", "PerMachineDetector")
    # A file written while the type was saved under its private module's name.
    old = tmp_path / "old.skops"
    old.write_bytes(_persistence._rename_types(path.read_bytes(), {
        "skaudio_ad.PerMachineDetector": "skaudio_ad._fleet.PerMachineDetector"}))
    assert schema(old)["__module__"] == "skaudio_ad._fleet"
    loaded = skaudio_ad.load(old)
    np.testing.assert_array_equal(loaded.score_samples(X, machine_ids=IDS),
                                  fleet.score_samples(X, machine_ids=IDS))


class _Failing(BaseEstimator):
    """Fails to fit on one machine's data (its rows are marked by a first sample of 99)."""

    def fit(self, X, y=None):
        if np.any(np.asarray(X)[:, 0] == 99):
            raise ValueError("this machine's clips are broken")
        self.fitted_ = True
        return self

    def score_samples(self, X):
        return np.zeros(len(X))


def test_a_failed_machine_fit_names_it_and_keeps_nothing(fleet):
    F = np.zeros((4, 3))
    F[2:, 0] = 99
    failing = PerMachineDetector(_Failing()).fit(F[:2], machine_ids=["a", "b"])
    with pytest.raises(ValueError, match="broken") as info:
        failing.fit(F, machine_ids=["a", "a", "b", "b"])
    assert any("machine 'b'" in note for note in info.value.__notes__)
    assert not hasattr(failing, "estimators_") and not hasattr(failing, "machine_ids_")


def test_metadata_routing_through_a_pipeline():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(16, 4096)).astype(np.float32)
    ids = np.repeat(["a", "b"], 8)
    detector = ConvAutoencoderDetector(max_epochs=1, hidden_channels=4, latent_dim=2,
                                       patch_frames=4, validation_fraction=0.4,
                                       random_state=0)
    with config_context(enable_metadata_routing=True):
        # Shared features, one detector per machine; machine_ids is requested by default.
        pipe = Pipeline([("mel", MelSpectrogramTransformer(n_mels=8)),
                         ("fleet", PerMachineDetector(detector))]).fit(W, machine_ids=ids)
        labels = pipe.predict(W, machine_ids=ids)
        decision = pipe.decision_function(W, machine_ids=ids)
    fleet = pipe[-1]
    S = pipe[0].transform(W)
    np.testing.assert_array_equal(decision, fleet.decision_function(S, machine_ids=ids))
    np.testing.assert_array_equal(labels, fleet.predict(S, machine_ids=ids))


def test_paths_as_X(fleet, wav_paths):
    from_files = PerMachineDetector(_pipeline()).fit(wav_paths, machine_ids=IDS)
    np.testing.assert_array_equal(from_files.score_samples(wav_paths, machine_ids=IDS),
                                  fleet.score_samples(X, machine_ids=IDS))


# ---------------------------------------------------------------------- on a cluster


def test_dask_fit_equals_sequential_fit_bitwise(client, fleet, wav_paths):
    with joblib.parallel_config(backend="dask"):
        on_cluster = PerMachineDetector(_pipeline()).fit(X, machine_ids=IDS)
        from_files = PerMachineDetector(_pipeline()).fit(wav_paths, machine_ids=IDS)
    assert on_cluster.machine_ids_ == fleet.machine_ids_
    expected = fleet.score_samples(X, machine_ids=IDS)
    # float32 XLA, fitted in other processes: the same bits, not just close.
    np.testing.assert_array_equal(on_cluster.score_samples(X, machine_ids=IDS), expected)
    np.testing.assert_array_equal(from_files.score_samples(X, machine_ids=IDS), expected)
    for machine in MACHINES:
        assert (on_cluster.estimators_[machine][-1].offset_
                == fleet.estimators_[machine][-1].offset_)


class _DiesOnFit(BaseEstimator):
    """Kills its own worker process while fitting the pump (its clips start with
    ``VICTIM_SIGNATURE``): on the first attempt only, or on every attempt. Anywhere else
    it is ``estimator``."""

    def __init__(self, estimator=None, marker=None, always=False):
        self.estimator = estimator
        self.marker = marker
        self.always = always

    def fit(self, X, y=None):
        if (np.asarray(X)[:, :3] == VICTIM_SIGNATURE).all(axis=1).any():
            if self.always or not os.path.exists(self.marker):
                open(self.marker, "w").close()
                os._exit(1)  # the worker process dies mid-fit, as on an out-of-memory kill
        self.model_ = clone(self.estimator).fit(X, y)
        return self

    def score_samples(self, X):
        return self.model_.score_samples(X)


VICTIM_SIGNATURE = X[IDS == "pump"][0, :3]


def test_a_worker_killed_mid_fit_is_retried(client, fleet, tmp_path):
    marker = str(tmp_path / "killed-once")
    wrapped = PerMachineDetector(_DiesOnFit(_pipeline(), marker=marker))
    with joblib.parallel_config(backend="dask"):
        wrapped.fit(X, machine_ids=IDS)
    assert os.path.exists(marker)  # a worker did die
    assert wrapped.machine_ids_ == list(MACHINES)
    np.testing.assert_array_equal(wrapped.score_samples(X, machine_ids=IDS),
                                  fleet.score_samples(X, machine_ids=IDS))


def test_a_worker_killed_on_every_attempt_fails_clearly(client, tmp_path):
    from distributed.scheduler import KilledWorker

    # Features and a cheap model: the workers restarted after each death compile nothing.
    F = np.random.default_rng(0).normal(size=(12, 3))
    F[:4] = VICTIM_SIGNATURE
    wrapped = PerMachineDetector(_DiesOnFit(IsolationForest(n_estimators=5, random_state=0),
                                            marker=str(tmp_path / "killed"), always=True))
    with joblib.parallel_config(backend="dask"), pytest.raises(KilledWorker):
        wrapped.fit(F, machine_ids=np.repeat(["pump", "fan", "valve"], 4))
    assert not hasattr(wrapped, "estimators_")  # never a partial fleet
    client.wait_for_workers(2, timeout=60)


# ray.init starts its services with fork + exec (safe), which JAX's fork hook warns about.
@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")
def test_ray_fit_equals_sequential_fit(fleet):
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    register_ray()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with joblib.parallel_config(backend="ray"):
            on_ray = PerMachineDetector(_pipeline()).fit(X, machine_ids=IDS)
    finally:
        ray.shutdown()
    np.testing.assert_array_equal(on_ray.score_samples(X, machine_ids=IDS),
                                  fleet.score_samples(X, machine_ids=IDS))


# ---------------------------------------------------------------------- archives


def test_score_files_in_chunks_on_the_cluster(client, fleet, wav_paths, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    paths = list(wav_paths) + [str(broken)]
    ids = list(IDS) + ["fan"]
    paths.insert(5, wav_paths[0])
    ids.insert(5, "slider")  # a machine without a model: reported, not fatal
    failed = {}

    def report(path, reason):
        failed[path] = reason

    # Chunks of 8 (and 1 for a chunk scored file by file): few batch shapes to compile.
    on_cluster = score_files(fleet, paths, machine_ids=ids, chunk_size=8, client=client,
                             on_error=report)
    assert set(failed) == {str(broken), wav_paths[0]}
    assert "slider" in failed[wav_paths[0]]
    here = score_files(fleet, paths, machine_ids=ids, chunk_size=8, on_error=lambda p, r: None)
    np.testing.assert_array_equal(on_cluster, here)
    assert np.isnan(on_cluster[5]) and np.isnan(on_cluster[-1])
    expected = fleet.score_samples(X, machine_ids=IDS)
    # Chunks of other sizes than one whole call: equal to float32 rounding.
    np.testing.assert_allclose(np.delete(on_cluster, [5, len(paths) - 1]), expected, rtol=1e-6)
    with pytest.raises(ValueError, match=r"cannot score .*(broken\.wav|'slider')"):
        score_files(fleet, paths, machine_ids=ids, client=client)
    single = fleet.estimators_["fan"]
    fan = [p for p, m in zip(wav_paths, IDS, strict=True) if m == "fan"]
    np.testing.assert_array_equal(
        score_files(single, fan, method="decision_function", chunk_size=8, client=client),
        single.decision_function(X[IDS == "fan"]))


@pytest.mark.parametrize("kwargs, match", [
    (dict(chunk_size=0), "chunk_size must be an int >= 1"),
    (dict(method="fit"), "method must be one of"),
    (dict(on_error="ignore"), "on_error must be 'raise' or a callable"),
    (dict(machine_ids=["fan"]), "one id per path"),
    (dict(machine_ids=None), "machine_ids is required for a PerMachineDetector"),
])
def test_score_files_arguments(fleet, wav_paths, kwargs, match):
    with pytest.raises(ValueError, match=match):
        score_files(fleet, wav_paths[:2], **{"machine_ids": list(IDS[:2]), **kwargs})


def test_score_files_several_methods_one_reading_and_io_error_policy(fleet, wav_paths,
                                                                     tmp_path):
    damaged = tmp_path / "fan" / "nan.wav"
    damaged.parent.mkdir()
    clip = X[0].copy()
    clip[100] = np.nan
    sf.write(damaged, clip, SR, subtype="FLOAT")
    paths, ids = list(wav_paths[:6]) + [str(damaged)], list(IDS[:6]) + ["fan"]
    failed = {}
    methods = ("score_samples", "decision_function", "predict")
    values = score_files(fleet, paths, machine_ids=ids, method=methods, chunk_size=8,
                         on_error=failed.__setitem__)
    assert values.shape == (7, 3) and list(failed) == [str(damaged)]
    assert "NaN" in failed[str(damaged)] and np.isnan(values[-1]).all()
    for column, method in enumerate(methods):
        np.testing.assert_array_equal(
            values[:6, column], getattr(fleet, method)(X[:6], machine_ids=IDS[:6]))


def test_score_files_needs_models_that_read_files(fleet, wav_paths):
    with pytest.raises(ValueError, match="machine_ids routes files"):
        score_files(fleet.estimators_["fan"], wav_paths[:2], machine_ids=list(IDS[:2]))
    with pytest.raises(TypeError, match="must be a fitted Pipeline that starts with a Mel"):
        score_files(fleet.estimators_["fan"][-1], wav_paths[:2])
    with pytest.raises(TypeError, match="must be a fitted Pipeline"):
        score_files(_pipeline(), wav_paths[:2])


# ---------------------------------------------------------------------- command line

TINY = ["--n-mels", "16", "--epochs", "2", "--hidden-channels", "4", "--latent-dim", "2",
        "--patch-frames", "8", "--validation-fraction", "0.3", "--seed", "0", "--quiet"]


@pytest.fixture(scope="module")
def mimii_tree(tmp_path_factory):
    """A MIMII-like machine type folder: id_XX/{normal,abnormal}/*.wav."""
    root = tmp_path_factory.mktemp("fan")
    for k, machine in enumerate(("id_00", "id_02")):
        normal, _ = make_machine_sounds(N_CLIPS, 0, machine=MACHINES[k], duration=DURATION,
                                        random_state=k)
        anomalous, _ = make_machine_sounds(0, 3, machine=MACHINES[k], duration=DURATION,
                                           random_state=9)
        for kind, clips in (("normal", normal), ("abnormal", anomalous)):
            (root / machine / kind).mkdir(parents=True)
            for i, clip in enumerate(clips):
                sf.write(root / machine / kind / f"{i:08d}.wav", clip, SR, subtype="FLOAT")
    return root


@pytest.fixture(scope="module")
def fleet_file(mimii_tree, tmp_path_factory):
    from skaudio_ad._cli import main

    out = tmp_path_factory.mktemp("models") / "fleet.skops"
    assert main(["fit", str(mimii_tree), "--per-machine", "-o", str(out)] + TINY) == 0
    return out


def test_cli_fit_per_machine_trains_one_model_per_folder(fleet_file, mimii_tree):
    fleet = skaudio_ad.load(fleet_file)
    assert isinstance(fleet, PerMachineDetector) and fleet.machine_ids_ == ["id_00", "id_02"]
    assert fleet.n_clips_ == {"id_00": N_CLIPS, "id_02": N_CLIPS}  # normal/ only
    # The same model as the Python API fitted on the same files.
    paths = sorted(str(p) for p in (mimii_tree / "id_02" / "normal").glob("*.wav"))
    alone = _pipeline().set_params(mel__n_mels=16).fit(paths)
    np.testing.assert_array_equal(fleet.estimators_["id_02"].score_samples(paths),
                                  alone.score_samples(paths))


def test_cli_score_routes_each_file_by_folder(fleet_file, mimii_tree, tmp_path, capsys):
    from skaudio_ad._cli import main

    fleet = skaudio_ad.load(fleet_file)
    out = tmp_path / "scores.csv"
    assert main(["score", str(fleet_file), str(mimii_tree), "--output", str(out),
                 "--quiet"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 * (N_CLIPS + 3)
    for row in rows:
        machine = "id_00" if "/id_00/" in row["path"] else "id_02"
        assert row["machine"] == machine
        expected = fleet.estimators_[machine].score_samples([row["path"]])[0]
        # float32 network: a clip scored alone or within a chunk agrees to float32 rounding.
        assert float(row["score"]) == pytest.approx(expected, rel=1e-6)
    # --machine forces one model; an unknown one is a one-line usage error.
    one = tmp_path / "one.json"
    assert main(["score", str(fleet_file), str(mimii_tree / "id_00"), "--machine", "id_02",
                 "--output", str(one), "--quiet"]) == 0
    assert {r["machine"] for r in json.loads(one.read_text())} == {"id_02"}
    capsys.readouterr()
    assert main(["score", str(fleet_file), str(mimii_tree), "--machine", "id_09"]) == 2
    err = capsys.readouterr().err
    assert "'id_09' is not in the fleet" in err and len(err.splitlines()) == 1


def test_cli_score_reports_bad_and_unroutable_files(fleet_file, mimii_tree, tmp_path, capsys):
    from skaudio_ad._cli import main

    bad = tmp_path / "id_00" / "broken.wav"
    bad.parent.mkdir()
    bad.write_text("not audio")
    stray = tmp_path / "elsewhere" / "clip.wav"
    stray.parent.mkdir()
    sf.write(stray, X[0], SR, subtype="FLOAT")
    good = next((mimii_tree / "id_00" / "normal").glob("*.wav"))
    capsys.readouterr()
    assert main(["score", str(fleet_file), str(bad), str(stray), str(good), "--quiet"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 2 and "Traceback" not in captured.err
    assert any("broken.wav" in line for line in lines)
    assert any("clip.wav" in line and "known machine ids: ['id_00', 'id_02']" in line
               for line in lines)
    assert str(good) in captured.out and "machine" in captured.out.splitlines()[0]


def test_cli_evaluate_a_fleet(fleet_file, mimii_tree, capsys):
    from skaudio_ad._cli import main

    normal = [str(mimii_tree / m / "normal") for m in ("id_00", "id_02")]
    anomalous = [str(mimii_tree / m / "abnormal") for m in ("id_00", "id_02")]
    capsys.readouterr()
    assert main(["evaluate", str(fleet_file), "--normal", *normal, "--anomaly", *anomalous,
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "AUC" in out and "id_00: AUC" in out and "id_02: AUC" in out


def test_cli_fit_dcase_flat_train_folder(tmp_path, capsys):
    from skaudio_ad._cli import main

    train = tmp_path / "slider" / "train"
    train.mkdir(parents=True)
    for k, machine in enumerate(("id_00", "id_04")):
        for i, clip in enumerate(X[IDS == MACHINES[k]]):
            sf.write(train / f"normal_{machine}_{i:08d}.wav", clip, SR, subtype="FLOAT")
    sf.write(train / "anomaly_id_00_00000000.wav", X[0], SR, subtype="FLOAT")
    damaged = X[0].copy()
    damaged[7] = np.nan
    sf.write(train / "normal_id_00_99999999.wav", damaged, SR, subtype="FLOAT")
    sf.write(train / "normal_id_06_00000000.wav", X[0], SR, subtype="FLOAT")  # one clip
    out = tmp_path / "slider.skops"
    assert main(["fit", str(tmp_path / "slider"), "--per-machine", "-o", str(out)] + TINY) == 0
    err = capsys.readouterr().err.splitlines()  # each skipped, said so in one line
    assert len(err) == 3 and "Traceback" not in "".join(err)
    assert any("anomaly_id_00_00000000.wav" in line for line in err)
    assert any("normal_id_00_99999999.wav" in line and "NaN" in line for line in err)
    assert any("'id_06'" in line and "at least 2" in line for line in err)
    fleet = skaudio_ad.load(out)
    assert fleet.machine_ids_ == ["id_00", "id_04"] and fleet.n_clips_["id_00"] == N_CLIPS


def test_cli_fit_and_score_on_a_dask_scheduler(client, fleet_file, mimii_tree, tmp_path):
    from skaudio_ad._cli import main

    address = client.scheduler.address
    out = tmp_path / "fleet.skops"
    assert main(["fit", str(mimii_tree), "--per-machine", "-o", str(out),
                 "--scheduler", address] + TINY) == 0
    here, there = tmp_path / "here.csv", tmp_path / "there.csv"
    assert main(["score", str(fleet_file), str(mimii_tree), "--quiet", "--output", str(here)]) == 0
    assert main(["score", str(out), str(mimii_tree), "--quiet", "--output", str(there),
                 "--scheduler", address]) == 0
    assert here.read_text() == there.read_text()  # same models, same scores, same order
    assert main(["score", str(out), str(mimii_tree), "--scheduler", "tcp://127.0.0.1:9"]) == 2


def test_cli_fleet_usage_errors_are_one_line_before_any_work(fleet_file, mimii_tree, tmp_path,
                                                             capsys):
    from skaudio_ad._cli import main

    normal, anomalous = str(mimii_tree / "id_00" / "normal"), str(mimii_tree / "id_00" / "abnormal")
    cases = [
        (["fit", str(mimii_tree), "-o", str(tmp_path / "m.skops"), "--n-jobs", "2"],
         "add --per-machine"),
        (["fit", str(mimii_tree), "--per-machine", "-o", str(tmp_path / "no" / "f.skops")],
         "existing folder"),
        (["fit", str(mimii_tree / "id_00" / "normal" / "00000000.wav"), "--per-machine",
          "-o", str(tmp_path / "f.skops")], "needs folders"),
        (["evaluate", str(fleet_file), "--normal", normal, "--anomaly", anomalous, "--out",
          str(tmp_path / "plots")], "--out plots are drawn for single-machine models"),
    ]
    for argv, message in cases:
        capsys.readouterr()
        assert main(argv + ["--quiet"]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.splitlines()) == 1, (argv, err)
    assert not (tmp_path / "m.skops").exists() and not (tmp_path / "plots").exists()
