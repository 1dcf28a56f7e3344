"""Stage: one correction run (registry, ``node_probabilities``) on one shard of weak images.

Writes ``<id>.npz`` (``node_probs``, float16) per corrected image and ``summary.csv`` (nodes,
edges, labelled nodes, whether the image fell back to CAM labels).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pixelnoise.atomic import atomic_path, file_in
from pixelnoise.methods import NODE_PROBABILITIES, REGISTRY
from pixelnoise.run_data import MethodInputs, RunData

log = logging.getLogger(__name__)


def correct_labels(
    *,
    run_name: str,
    manifest_path: str,
    dataset_cfg: dict,
    artifacts: dict[str, list[str]],
    tau_bg: float,
    cfg: dict,
    out_dir: str,
    shard: int,
    shards: int,
    seed: int,
    device: str,
    settings: dict | None = None,
) -> pd.DataFrame:
    """``cfg``: the config's ``correct`` section; ``settings``: the method family's own section
    (registry ``options["settings"]``, e.g. ``wsgcn``), if it has one."""
    method = REGISTRY.get(run_name, NODE_PROBABILITIES)
    run = RunData.load(dataset_cfg, manifest_path)
    inputs = MethodInputs(run, artifacts, {"tau_bg": tau_bg, "settings": settings or {}})
    ids = run.ids("weak", shard=shard, shards=shards)
    rows, probabilities = method.implementation().correct(
        method, inputs, ids, cfg=cfg, seed=seed, device=device
    )
    with atomic_path(out_dir, directory=True) as tmp:
        for row, probs in zip(rows, probabilities, strict=True):
            row["fallback"] = probs is None
            if probs is not None:
                np.savez_compressed(
                    file_in(tmp, f"{row['image_id']}.npz"), node_probs=probs.astype(np.float16)
                )
        summary = pd.DataFrame(rows)
        summary.to_csv(Path(tmp) / "summary.csv", index=False)
    log.info("%s: %d images, %d fell back to CAM labels", run_name, len(rows),
             int(summary["fallback"].sum()) if rows else 0)  # fmt: skip
    return summary
