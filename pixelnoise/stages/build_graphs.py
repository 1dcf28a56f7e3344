"""Stage: a graph per weak image, with the clean model's features as nodes: SLIC superpixels
(``kind="superpixel"``, the config's ``graph``) or a pixel grid (``kind="grid"``, the config's
``grid_graph``, for WSGCN; rule ``build_grid_graphs``).

Only the graph's structure is stored here; which nodes carry which label depends on the method
and is decided by the correction stage, so changing θ does not rebuild graphs.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from pixelnoise.atomic import atomic_path, file_in
from pixelnoise.device import resolve_device
from pixelnoise.graphs import VOID, build_graph, build_grid_graph
from pixelnoise.inference import log_probs_and_features
from pixelnoise.models.checkpoints import load_segmentation
from pixelnoise.run_data import RunData


def build_graphs(
    *,
    manifest_path: str,
    dataset_cfg: dict,
    checkpoint_path: str,
    cfg: dict,
    out_dir: str,
    shard: int = 0,
    shards: int = 1,
    device: str = "auto",
    kind: str = "superpixel",
) -> int:
    if kind not in ("superpixel", "grid"):
        raise ValueError(f"unknown graph kind {kind!r}; choose superpixel or grid")
    dev = resolve_device(device)
    run = RunData.load(dataset_cfg, manifest_path)
    model, meta = load_segmentation(checkpoint_path)
    model.to(dev)
    ids = run.ids("weak", shard=shard, shards=shards)
    with atomic_path(out_dir, directory=True) as tmp:
        for image_id in tqdm(ids, desc=f"{kind} graphs shard {shard}", mininterval=5):
            image = run.dataset.read_image(image_id)
            log_probs, features = log_probs_and_features(model, image, meta, dev)
            if kind == "grid":
                graph = build_grid_graph(
                    image, features.numpy(), stride=cfg["stride"], radius=cfg["radius"]
                )
            else:
                graph = build_graph(
                    image,
                    features.numpy(),
                    np.full(image.shape[:2], VOID, np.uint8),  # labels: the correction's job
                    n_segments=cfg["n_segments"],
                    compactness=cfg["compactness"],
                    class_scores=log_probs.exp().numpy(),  # node features on request
                )
            graph.save(file_in(tmp, f"{image_id}.npz"))
    return len(ids)
