"""
===================================
A fleet of machines, one model each
===================================

A plant has many machines, and each has its own normal sound: a detector trained on one
fan's sound flags a healthy pump as anomalous. :class:`~skaudio_ad.PerMachineDetector`
fits one copy of a pipeline per machine and sends each clip to its machine's model. The
fits go through :class:`joblib.Parallel`, so the same code runs sequentially here and over
a Dask or Ray cluster under :func:`joblib.parallel_config` (:ref:`many_machines`).
"""

# %%
# Three machines, one list of clips
# ---------------------------------
#
# Clips of a fan, a pump and a valve arrive interleaved, each with the id of the machine
# that recorded it (in MIMII and DCASE, the ``id_XX`` of its folder or file name).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import Pipeline

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer, PerMachineDetector
from skaudio_ad.datasets import make_machine_sounds
from skaudio_ad.metrics import anomaly_roc_auc

machines = {"id_00": "fan", "id_02": "pump", "id_04": "valve"}
train, train_ids, test, test_ids, y_test = [], [], [], [], []
for seed, (machine_id, kind) in enumerate(machines.items()):
    X, _ = make_machine_sounds(40, 0, machine=kind, duration=1.0, random_state=seed)
    X_t, y_t = make_machine_sounds(12, 12, machine=kind, duration=1.0, random_state=10 + seed)
    train.append(X)
    train_ids += [machine_id] * len(X)
    test.append(X_t)
    test_ids += [machine_id] * len(X_t)
    y_test.append(y_t)
X_train, X_test, y_test = np.concatenate(train), np.concatenate(test), np.concatenate(y_test)
test_ids = np.asarray(test_ids)

# %%
# One model per machine
# ---------------------
#
# ``fit`` groups the rows by ``machine_ids`` and fits one clone of the pipeline per
# machine; ``n_jobs`` (or a Dask cluster, below) fits several at once.
pipeline = Pipeline([
    ("mel", MelSpectrogramTransformer(n_mels=32)),
    ("detector", ConvAutoencoderDetector(max_epochs=15, hidden_channels=8, latent_dim=4,
                                         patch_frames=16, random_state=0)),
])
fleet = PerMachineDetector(pipeline).fit(X_train, machine_ids=train_ids)
print(fleet.machine_ids_)

# %%
# Each clip is scored by its own machine's model, with its own threshold; ``predict``
# returns +1 (normal) or -1 (anomaly) in the order of the rows.
scores = fleet.score_samples(X_test, machine_ids=test_ids)
labels = fleet.predict(X_test, machine_ids=test_ids)
for machine_id, kind in machines.items():
    rows = test_ids == machine_id
    print(f"{machine_id} ({kind}): AUC {anomaly_roc_auc(y_test[rows], -scores[rows]):.2f}, "
          f"{np.sum(labels[rows] == -1)} of {rows.sum()} clips flagged")

# %%
# Why one model per machine
# -------------------------
#
# Score the pump's normal test clips with the fan's model: the pump's healthy sound is far
# from everything the fan's model has heard. A single model for the plant would have to
# cover every machine's normal sound at once, and would miss the faults in between.
pump_normal = (test_ids == "id_02") & (y_test == 0)
own = -fleet.score_samples(X_test[pump_normal], machine_ids=["id_02"] * pump_normal.sum())
other = -fleet.score_samples(X_test[pump_normal], machine_ids=["id_00"] * pump_normal.sum())
fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
bins = np.linspace(0, max(own.max(), other.max()) * 1.05, 30)
ax.hist(own, bins=bins, alpha=0.7, label="pump's own model")
ax.hist(other, bins=bins, alpha=0.7, label="the fan's model")
for machine_id, style in (("id_02", "-"), ("id_00", "--")):
    ax.axvline(-fleet.estimators_[machine_id][-1].offset_, color="k", ls=style, lw=1)
ax.set_xlabel("anomaly score of normal pump clips (-score_samples)")
ax.set_ylabel("clips")
ax.legend()
plt.show()

# %%
# The same fit on a Dask cluster
# ------------------------------
#
# Nothing changes but the joblib backend. With a cluster running (``dask scheduler`` and
# ``dask worker`` processes, or a ``LocalCluster``), the fits are spread over its workers
# and give the same scores bit for bit::
#
#     import joblib
#     from dask.distributed import Client
#
#     client = Client("tcp://scheduler:8786")
#     with joblib.parallel_config(backend="dask"):
#         fleet = PerMachineDetector(pipeline).fit(X_train, machine_ids=train_ids)
#
# Archives of recordings are scored in chunks of files over the same workers with
# :func:`skaudio_ad.score_files` (``client=client``); ``skaudio-ad fit ROOT --per-machine``
# and ``skaudio-ad score`` do both from the command line.
