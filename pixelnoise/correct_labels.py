"""Stage: correct the labels of weak images with a GNN on their superpixel graphs.

A correction *run* names where the node supervision comes from and which GNN learns from it:

- ``detect_gat`` / ``detect_gcn``: clean pixels (loss < θ) of the CAM labels (Yi et al.);
- ``camseeds_gat``: confident CAM seeds, no detection (Table V, "correction only");
- ``oracle_gat``: ground truth at the detected pixels — reads weak masks, an upper bound for
  evaluation only (Table V, "oracle").

Each node is labelled by majority vote over its supervised pixels; the GNN predicts all nodes,
restricted to the image's classes. An image without any labelled node keeps its CAM labels
(``fallback``), which the report counts.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pixelnoise.arraystore import ArrayReader
from pixelnoise.atomic import atomic_path
from pixelnoise.cam_labels import cam_seeds
from pixelnoise.detect import clean_mask
from pixelnoise.device import resolve_device
from pixelnoise.errors import ConfigError
from pixelnoise.gnn import GraphInput, correct_graphs
from pixelnoise.graphs import VOID, SuperpixelGraph, majority_vote
from pixelnoise.methods import CORRECTION_RUNS
from pixelnoise.select_theta import load_theta
from pixelnoise.stages_common import RunData

log = logging.getLogger(__name__)


def image_key(image_id: str) -> int:
    """A stable integer per image id: its GNN's seed key, the same in whichever shard it lands.

    >>> image_key("2007_000032") == image_key("2007_000032") != image_key("2007_000033")
    True
    """
    return int.from_bytes(hashlib.sha256(image_id.encode()).digest()[:8], "big")


def supervision_labels(
    source: str, run: RunData, image_id: str, *, cams, losses, theta, tau_bg, cfg
) -> np.ndarray:
    """H x W labels the GNN learns from (VOID where a pixel gives no supervision)."""
    if source == "camseeds":
        values, classes = cams.cams(image_id)
        return cam_seeds(values, classes, run.background, cfg["seed_fg"], cfg["seed_bg"])
    clean = clean_mask(losses[image_id][0], run.cam_labels(cams, image_id, tau_bg), theta)
    if source == "detect":
        return clean
    truth = run.dataset.read_mask(image_id)  # oracle: evaluation-only use of weak masks
    return np.where(clean != VOID, truth, VOID).astype(np.uint8)


def correct_labels(
    *,
    run_name: str,
    manifest_path: str,
    dataset_cfg: dict,
    graph_dirs: list[str],
    cam_paths: list[str],
    loss_paths: list[str],
    theta_path: str,
    tau_bg: float,
    cfg: dict,
    out_dir: str,
    shard: int = 0,
    shards: int = 1,
    seed: int = 0,
    device: str = "auto",
) -> pd.DataFrame:
    """Node class probabilities per weak image (``<id>.npz``) and ``summary.csv``."""
    if run_name not in CORRECTION_RUNS:
        raise ConfigError(
            f"unknown correction run {run_name!r}; choose one of {sorted(CORRECTION_RUNS)}"
        )
    source, kind = CORRECTION_RUNS[run_name]
    run = RunData.load(dataset_cfg, manifest_path)
    cams, losses = ArrayReader(cam_paths), ArrayReader(loss_paths)
    theta = load_theta(theta_path)
    ids = run.ids("weak", shard=shard, shards=shards)
    graph_files = {p.stem: p for d in graph_dirs for p in Path(d).glob("*.npz")}
    inputs, rows = [], []
    for image_id in ids:
        graph = SuperpixelGraph.load(graph_files[image_id])
        labels = supervision_labels(
            source, run, image_id, cams=cams, losses=losses, theta=theta, tau_bg=tau_bg, cfg=cfg
        )
        node_labels = majority_vote(graph.segments, labels, graph.num_nodes)
        inputs.append(
            GraphInput(graph.features, graph.edges, node_labels, run.allowed_classes(image_id))
        )
        rows.append(
            {
                "image_id": image_id,
                "nodes": graph.num_nodes,
                "edges": len(graph.edges),
                "labelled_nodes": int((node_labels != VOID).sum()),
            }
        )
    probabilities = correct_graphs(
        inputs,
        num_classes=run.num_classes,
        kind=kind,
        backend=cfg["backend"],
        mode=cfg["mode"],
        hidden=cfg["hidden"],
        heads=cfg["heads"],
        dropout=cfg["dropout"],
        lr=cfg["lr"],
        weight_decay=cfg["weight_decay"],
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        seed=seed,
        keys=[image_key(row["image_id"]) for row in rows],
        device=str(resolve_device(device)),
    )
    with atomic_path(out_dir, directory=True) as tmp:
        for row, probs in zip(rows, probabilities, strict=True):
            row["fallback"] = probs is None
            if probs is not None:
                np.savez_compressed(
                    Path(tmp) / f"{row['image_id']}.npz", node_probs=probs.astype(np.float16)
                )
        summary = pd.DataFrame(rows)
        summary.to_csv(Path(tmp) / "summary.csv", index=False)
    log.info("%s: %d images, %d fell back to CAM labels", run_name, len(rows),
             int(summary["fallback"].sum()) if rows else 0)  # fmt: skip
    return summary
