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
from pixelnoise.graphs import VOID, SuperpixelGraph, majority_vote
from pixelnoise.supervision import SupervisionInputs, source


def image_key(image_id: str) -> int:
    """A stable integer per image id: its GNN's seed key, the same in whichever shard it lands.

    >>> image_key("2007_000032") == image_key("2007_000032") != image_key("2007_000033")
    True
    """
    return int.from_bytes(hashlib.sha256(image_id.encode()).digest()[:8], "big")


def node_labels(graph: SuperpixelGraph, pixel_labels: np.ndarray, cfg: dict) -> np.ndarray:
    """Each superpixel's label: the majority class of its supervised pixels, kept only where
    those pixels cover at least ``cfg["min_clean_fraction"]`` of the superpixel (0: any)."""
    labels = majority_vote(graph.segments, pixel_labels, graph.num_nodes)
    if cfg["min_clean_fraction"] > 0:
        sizes = np.bincount(graph.segments.ravel(), minlength=graph.num_nodes)
        supervised = np.bincount(
            graph.segments[pixel_labels != VOID].ravel(), minlength=graph.num_nodes
        )
        labels[supervised < cfg["min_clean_fraction"] * sizes] = VOID
    return labels


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
    supervision = source(method.options["supervision"])
    needs = set(supervision.consumes)
    sources = SupervisionInputs(
        run=inputs.run,
        cams=inputs.cams,
        losses=inputs.losses if "losses" in needs else None,
        theta=inputs.theta if "theta" in needs else None,
        tau_bg=inputs.params["tau_bg"],
        cfg=cfg,
    )
    graph_files = inputs.files("graphs", ".npz")
    graphs, rows = [], []
    for image_id in ids:
        graph = SuperpixelGraph.load(graph_files[image_id])
        labels = node_labels(graph, supervision.labels(sources, image_id), cfg)
        allowed = inputs.run.allowed_classes(image_id)
        graphs.append(GraphInput(graph.features, graph.edges, labels, allowed))
        rows.append(
            {
                "image_id": image_id,
                "nodes": graph.num_nodes,
                "edges": len(graph.edges),
                "labelled_nodes": int((labels != VOID).sum()),
            }
        )
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
