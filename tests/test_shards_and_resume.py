"""Shards, crash and resume: one run of the tiny config in 3 shards, killed with SIGKILL in the
middle of a GNN correction job and resumed, against the shared one-shard run.

Per-image results must not depend on the sharding (nor on the threads per job, which follow
from it), and a resumed run must end exactly where an uninterrupted one does.
"""

import json
import os
import signal
import subprocess
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import psutil
import pytest
import torch
from PIL import Image
from workflow_runner import REPO, SNAKEMAKE, snakemake

from pixelnoise.arraystore import ArrayReader
from pixelnoise.config import schema_defaults
from pixelnoise.correction import gnn_options, image_key
from pixelnoise.gnn import GraphInput, correct_graphs
from pixelnoise.models.checkpoints import load_checkpoint

CONFIGS = ("tests/configs/tiny.yaml", "tests/configs/tiny_shards3.yaml")
SHARDS = 3
METHODS = ["cam", "detect", "detect_gat_crf"]  # the methods of tiny_shards3.yaml
# What every correction job reads: finished before the kill, so the resume must not redo it.
BEFORE_CORRECTION = [
    "results/models/classifier.pt",
    "results/models/clean.pt",
    *(f"results/cams/shard{k}.zarr" for k in range(SHARDS)),
    *(f"results/detect/losses/shard{k}.zarr" for k in range(SHARDS)),
    "results/detect/theta.json",
]


def _session_processes(session: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session:
                found.append(process)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
    return found


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """The 3-shard run, killed (SIGKILL to Snakemake and its jobs) once a detect_gat
    correction job has started, then unlocked and resumed with --rerun-incomplete."""
    workdir = tmp_path_factory.mktemp("shards3")
    command = [
        *SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--cores", "2", "--configfile", *(str(REPO / c) for c in CONFIGS),
    ]  # fmt: skip
    first_log = workdir.parent / f"{workdir.name}.first.log"
    correction_logs = workdir / "logs/correct_labels/detect_gat"
    with open(first_log, "w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        deadline = time.monotonic() + 900
        try:
            while not (started := sorted(correction_logs.glob("shard*.log"))):
                assert process.poll() is None, "ended before correction:\n" + first_log.read_text()
                assert time.monotonic() < deadline, "correction did not start in 15 min"
                time.sleep(0.05)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    deadline = time.monotonic() + 30
    while _session_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _session_processes(process.pid), "jobs survived the kill"
    results = workdir / "results"
    interrupted = [
        p.stem for p in started if not (results / "corrected/detect_gat" / p.stem).exists()
    ]
    before = {path: (workdir / path).stat().st_mtime_ns for path in BEFORE_CORRECTION}
    final_before = (results / "metrics/segmentation.csv").exists()
    snakemake(workdir, "--unlock", configfiles=CONFIGS)
    resumed = snakemake(workdir, "--rerun-incomplete", configfiles=CONFIGS)
    return SimpleNamespace(
        workdir=workdir,
        results=results,
        interrupted=interrupted,
        before=before,
        final_before=final_before,
        resume_log=resumed.stdout + resumed.stderr,
    )


@pytest.mark.slow
def test_killed_run_resumes_without_redoing_finished_work(sharded):
    assert sharded.interrupted, "no correction job was running when the run was killed"
    assert not sharded.final_before
    for shard in sharded.interrupted:
        assert (sharded.results / "corrected/detect_gat" / shard / "summary.csv").exists()
    after = {path: (sharded.workdir / path).stat().st_mtime_ns for path in BEFORE_CORRECTION}
    assert after == sharded.before
    for rule in ("train_classifier", "export_cams", "train_clean_model", "score_pixels"):
        assert f"rule {rule}:" not in sharded.resume_log
    again = snakemake(sharded.workdir, "--dry-run", configfiles=CONFIGS)
    assert "Nothing to be done" in again.stdout + again.stderr


def _label_images(run: Path, method: str) -> dict[str, np.ndarray]:
    images = {}
    for path in sorted((run / "results/pseudo_labels" / method).glob("shard*/*.png")):
        assert path.stem not in images, f"{path.stem} in two shards"
        images[path.stem] = np.asarray(Image.open(path))
    return images


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_three_shards_give_the_pseudo_labels_of_one(finished_run, sharded, method):
    shard_dirs = sorted(p.name for p in (sharded.results / "pseudo_labels" / method).iterdir())
    assert shard_dirs == [f"shard{k}" for k in range(SHARDS)]
    one, three = _label_images(finished_run, method), _label_images(sharded.workdir, method)
    assert len(one) == 30 and sorted(one) == sorted(three)
    differing = [i for i in one if not np.array_equal(one[i], three[i])]
    assert not differing, f"{method}: {len(differing)} of {len(one)} images differ: {differing}"


@pytest.mark.slow
def test_three_shards_give_the_metrics_of_one(finished_run, sharded):
    one = (finished_run / "results/metrics/pseudo_labels.csv").read_text().splitlines()
    three = (sharded.results / "metrics/pseudo_labels.csv").read_text().splitlines()
    assert three == [one[0], *(row for row in one[1:] if row.split(",")[0] in METHODS)]
    one = (finished_run / "results/metrics/segmentation.csv").read_text()
    assert (sharded.results / "metrics/segmentation.csv").read_text() == one
    theta = (finished_run / "results/detect/theta.json").read_text()
    assert json.loads((sharded.results / "detect/theta.json").read_text()) == json.loads(theta)


def _arrays(run: Path, kind: str) -> ArrayReader:
    with warnings.catch_warnings():  # Snakemake's timestamp file inside the stores
        warnings.simplefilter("ignore")
        return ArrayReader(sorted((run / "results" / kind).glob("shard*.zarr")))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cams", "detect/losses"])
def test_per_image_arrays_do_not_depend_on_sharding(finished_run, sharded, kind):
    one, three = _arrays(finished_run, kind), _arrays(sharded.workdir, kind)
    assert len(three) == len(one) == 36 and list(one) == list(three)
    for image_id in one:
        (a, attrs_a), (b, attrs_b) = one[image_id], three[image_id]
        assert attrs_a == attrs_b
        assert np.array_equal(a, b, equal_nan=True), f"{kind}: {image_id} differs"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["graphs", "corrected/detect_gat"])
def test_graphs_and_corrections_do_not_depend_on_sharding(finished_run, sharded, kind):
    def load(run):
        files = sorted((run / "results" / kind).glob("shard*/*.npz"))
        return {p.stem: dict(np.load(p)) for p in files}

    one, three = load(finished_run), load(sharded.workdir)
    assert len(one) == 30 and sorted(one) == sorted(three)
    for image_id, arrays in one.items():
        assert arrays.keys() == three[image_id].keys()
        for name, value in arrays.items():
            assert np.array_equal(value, three[image_id][name]), f"{kind}: {image_id}.{name}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "checkpoint", ["classifier.pt", "clean.pt", "segmentation/detect_gat_crf/repeat0.pt"]
)
def test_same_seed_gives_identical_checkpoints(finished_run, sharded, checkpoint):
    one, three = (
        load_checkpoint(run / "results/models" / checkpoint)["state_dict"]
        for run in (finished_run, sharded.workdir)
    )
    assert one.keys() == three.keys()
    differing = [k for k in one if not torch.equal(one[k], three[k])]
    assert not differing, f"{checkpoint}: {differing}"


def _chain(rng, size: int) -> GraphInput:
    """A path graph with 16-dim features, its two ends labelled 0 and 1."""
    labels = np.full(size, 255, np.uint8)
    labels[[0, -1]] = [0, 1]
    return GraphInput(
        features=rng.normal(size=(size, 16)).astype(np.float32),
        edges=np.array([[i, i + 1] for i in range(size - 1)]),
        labels=labels,
        allowed=[0, 1],
    )


@pytest.mark.parametrize("backend", ["torch", "dgl"])
@pytest.mark.parametrize("kind", ["gat", "gcn"])
def test_a_graphs_model_follows_its_image_not_its_place_in_the_shard(kind, backend):
    """correct_labels seeds each image's GNN from its id, and per-image models sum their
    gradients graph by graph, so an image gets the same bits in whichever shard, batch and
    position it lands: alone, with other graphs, first or last."""
    rng = np.random.default_rng(0)
    graphs = [_chain(rng, size) for size in (40, 35, 50, 45, 120)]
    keys = [image_key(f"syn_{i:05d}") for i in range(len(graphs))]
    gnn = {**gnn_options(schema_defaults()["correct"]), "backend": backend, "epochs": 10}
    options = dict(num_classes=2, kind=kind, seed=3, **gnn)
    together = correct_graphs(graphs, keys=keys, **options)
    alone = [correct_graphs([g], keys=[k], **options)[0] for g, k in zip(graphs, keys, strict=True)]
    split = [
        *correct_graphs(graphs[:2], keys=keys[:2], **options),
        *correct_graphs(graphs[2:], keys=keys[2:], **options),
    ]
    reordered = correct_graphs(graphs[::-1], keys=keys[::-1], **options)[::-1]
    for other in (alone, split, reordered):
        for x, y in zip(together, other, strict=True):
            np.testing.assert_array_equal(x, y)
    [other_key] = correct_graphs(graphs[:1], keys=[keys[1]], **options)
    assert not np.array_equal(other_key, together[0])
