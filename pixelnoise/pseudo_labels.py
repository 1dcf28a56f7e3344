"""Stage: the pseudo labels of one method for one shard of weak images, as palette PNGs.

Methods (Yi et al. Tables V and VI), each a name the workflow uses as a wildcard:
``cam``, ``detect`` (clean pixels only, the rest void), a correction run (``detect_gat``,
``detect_gcn``, ``camseeds_gat``, ``oracle_gat``) and any run followed by ``_crf``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from pixelnoise.arraystore import ArrayReader
from pixelnoise.atomic import atomic_path
from pixelnoise.crf import dense_crf
from pixelnoise.data.palette import save_label_png
from pixelnoise.detect import clean_mask
from pixelnoise.graphs import SuperpixelGraph, node_probabilities_to_pixels
from pixelnoise.methods import parse_method
from pixelnoise.select_theta import load_theta
from pixelnoise.stages_common import RunData


def write_pseudo_labels(
    *,
    method: str,
    manifest_path: str,
    dataset_cfg: dict,
    cam_paths: list[str],
    tau_bg: float,
    out_dir: str,
    loss_paths: list[str] = (),
    theta_path: str | None = None,
    graph_dirs: list[str] = (),
    corrected_dirs: list[str] = (),
    crf_cfg: dict | None = None,
    shard: int = 0,
    shards: int = 1,
) -> pd.DataFrame:
    run_name, use_crf = parse_method(method)
    run = RunData.load(dataset_cfg, manifest_path)
    cams = ArrayReader(cam_paths)
    ids = run.ids("weak", shard=shard, shards=shards)
    graphs = {p.stem: p for d in graph_dirs for p in Path(d).glob("*.npz")}
    corrected = {p.stem: p for d in corrected_dirs for p in Path(d).glob("*.npz")}
    losses = ArrayReader(loss_paths) if method == "detect" else None
    theta = load_theta(theta_path) if method == "detect" else None
    rows = []
    with atomic_path(out_dir, directory=True) as tmp:
        for image_id in tqdm(ids, desc=f"{method} shard {shard}", mininterval=5):
            cam = run.cam_labels(cams, image_id, tau_bg)
            fallback = run_name is not None and image_id not in corrected
            if method == "detect":
                labels = clean_mask(losses[image_id][0], cam, theta)
            elif run_name is None or fallback:
                labels = cam
            else:
                graph = SuperpixelGraph.load(graphs[image_id])
                node_probs = np.load(corrected[image_id])["node_probs"].astype(np.float32)
                probs = node_probabilities_to_pixels(graph.segments, node_probs)
                if use_crf:
                    probs = dense_crf(run.dataset.read_image(image_id), probs, **crf_cfg)
                labels = probs.argmax(axis=0).astype(np.uint8)
            save_label_png(Path(tmp) / f"{image_id}.png", labels)
            rows.append({"image_id": image_id, "fallback": fallback})
        summary = pd.DataFrame(rows, columns=["image_id", "fallback"])
        summary.to_csv(Path(tmp) / "summary.csv", index=False)
    return summary
