"""Correction runs (Yi et al. Sec. III-C): a GNN per weak image, trained on the superpixels that
its supervision source labels (majority vote over the pixels), predicting every superpixel,
restricted to the image's classes. An image without any labelled node is not corrected (the
label stage then keeps its CAM labels).
"""

from __future__ import annotations

import hashlib

import numpy as np

from pixelnoise.device import resolve_device
from pixelnoise.gnn import GraphInput, Objective, correct_graphs, cross_entropy_objective
from pixelnoise.node_features import node_features
from pixelnoise.supervision import supervised_graphs


def image_key(image_id: str) -> int:
    """A stable integer per image id: its GNN's seed key, the same in whichever shard it lands.

    >>> image_key("2007_000032") == image_key("2007_000032") != image_key("2007_000033")
    True
    """
    return int.from_bytes(hashlib.sha256(image_id.encode()).digest()[:8], "big")


def gnn_options(cfg: dict) -> dict:
    """The GNN settings of the config's ``correct`` section, as ``correct_graphs`` takes them."""
    keys = ("backend", "mode", "hidden", "heads", "dropout", "lr", "weight_decay", "epochs",
            "batch_size")  # fmt: skip
    return {key: cfg[key] for key in keys}


def correct(
    method,
    inputs,
    ids: list[str],
    *,
    cfg: dict,
    seed: int,
    device: str,
    objective: Objective = cross_entropy_objective,
) -> tuple[list[dict], list[np.ndarray | None]]:
    """Per image: a summary row and the node probabilities (None: not corrected). Families
    with other losses pass their per-graph ``objective`` (default Yi et al. eq. 9)."""
    graphs, rows = [], []
    kinds = cfg["node_features"]
    cams = inputs.cams if "cams" in kinds else None
    for graph, labels, row in supervised_graphs(method, inputs, ids, cfg):
        image_id = row["image_id"]
        features = node_features(
            graph,
            kinds,
            cams.cams(image_id) if cams is not None else None,
            inputs.run.num_classes,
        )
        allowed = inputs.run.allowed_classes(image_id)
        graphs.append(GraphInput(features, graph.edges, labels, allowed))
        rows.append(row)
    probabilities = correct_graphs(
        graphs,
        num_classes=inputs.run.num_classes,
        kind=method.options["gnn"],
        seed=seed,
        keys=[image_key(image_id) for image_id in ids],
        device=str(resolve_device(device)),
        objective=objective,
        **gnn_options(cfg),
    )
    return rows, probabilities
