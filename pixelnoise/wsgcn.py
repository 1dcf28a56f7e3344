"""WSGCN (Pan et al.): a fresh two-layer GCN per image, trained on the image's seed nodes with
foreground and background cross-entropy, an entropy term on the unlabelled nodes and a
Laplacian term that ties the predictions of similar-coloured neighbours (eq. 2-7).

Graphs are the run's superpixel graphs or pixel grids (``graph.grid``), both stored as
:class:`~pixelnoise.graphs.SuperpixelGraph`; the GCN propagates over their feature-similarity
edges, ``rownorm(max(A, A^T) + I)`` (layer kind ``gcn_row``), while the Laplacian term uses the
spatial neighbours with WSGCN's colour and position affinity ``Phi`` (eq. 7):

``Phi_ij = exp(-||rgb_i - rgb_j||^2 / (2 sigma_rgb^2) - ||xy_i - xy_j||^2 / (2 sigma_xy^2))``

with the nodes' mean colour in [0, 1] and centroids in the paper's grid units: the cells of
its stride-4 grid, ``xy_unit`` = 4 pixels (``wsgcn.xy_unit``; ``None``: the node spacing
``sqrt(H W / N)``, ~8 pixels at 1000 superpixels on MSRC-21's photos, which doubled sigma_2).

>>> segments = np.array([[0, 0, 1, 1]])
>>> image = np.array([[[0, 0, 0], [0, 0, 0], [255, 255, 255], [255, 255, 255]]], np.uint8)
>>> pairs, phi = laplacian_pairs(segments, np.zeros((0, 2), np.int64), image, 3 ** 0.5, 10.0, 4)
>>> pairs.tolist(), [round(float(v), 4) for v in phi]
([[0, 1]], [0.6058])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pixelnoise.correction import gnn_options, image_key
from pixelnoise.device import resolve_device
from pixelnoise.gnn import GraphInput, TrainingChunk, correct_graphs
from pixelnoise.graphs import adjacent_pairs
from pixelnoise.losses import (
    laplacian_energy,
    node_entropy,
    pairwise_affinity_matrix,
    per_graph_mean,
    restrict_to_classes,
)
from pixelnoise.supervision import supervised_graphs

#: What the Laplacian term smooths: the paper's probabilities Q, or (as the public code does)
#: the log-probabilities the network outputs.
LAPLACIAN_ON = ("probabilities", "log_probabilities")
#: How the entropy of a node is reduced over classes: the paper's sum, or the code's mean.
ENTROPY_OVER = ("sum", "mean")


def node_colours_and_positions(
    segments: np.ndarray, image: np.ndarray, num_nodes: int, xy_unit: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each node's mean RGB in [0, 1] and centroid (x, y) in units of ``xy_unit`` pixels
    (``None``: of the node spacing)."""
    flat = segments.ravel().astype(np.int64)
    count = np.maximum(np.bincount(flat, minlength=num_nodes), 1)[:, None]
    rgb = np.stack(
        [np.bincount(flat, image[..., c].ravel() / 255.0, num_nodes) for c in range(3)], 1
    )
    y, x = np.indices(segments.shape)
    xy = np.stack([np.bincount(flat, a.ravel(), num_nodes) for a in (x, y)], 1)
    unit = np.sqrt(segments.size / num_nodes) if xy_unit is None else xy_unit
    return rgb / count, xy / count / unit


def laplacian_pairs(
    segments: np.ndarray,
    edges: np.ndarray,
    image: np.ndarray,
    sigma_rgb: float,
    sigma_xy: float,
    xy_unit: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The Laplacian's spatial neighbours (pixel-adjacent nodes, plus the graph's own edges:
    a grid's window) as sorted pairs ``i < j``, and ``Phi`` of each (eq. 7), float32."""
    num_nodes = int(segments.max()) + 1
    pairs = np.concatenate([adjacent_pairs(segments), np.asarray(edges).reshape(-1, 2)])
    pairs = np.unique(np.sort(pairs, axis=1), axis=0).reshape(-1, 2)
    rgb, xy = node_colours_and_positions(segments, image, num_nodes, xy_unit)
    colour = np.square(rgb[pairs[:, 0]] - rgb[pairs[:, 1]]).sum(1)
    place = np.square(xy[pairs[:, 0]] - xy[pairs[:, 1]]).sum(1)
    phi = np.exp(-colour / (2 * sigma_rgb**2) - place / (2 * sigma_xy**2))
    return pairs.astype(np.int64), phi.astype(np.float32)


@dataclass(frozen=True)
class Terms:
    """Which of WSGCN's loss terms are on, and their settings (the config's ``wsgcn``)."""

    entropy: bool
    laplacian: bool
    entropy_weight: float
    laplacian_weight: float
    entropy_over: str
    laplacian_on: str

    def __post_init__(self):
        if self.entropy_over not in ENTROPY_OVER:
            raise ValueError(f"wsgcn.entropy_over must be one of {ENTROPY_OVER}")
        if self.laplacian_on not in LAPLACIAN_ON:
            raise ValueError(f"wsgcn.laplacian_on must be one of {LAPLACIAN_ON}")


def _chunk_rows(chunk: TrainingChunk) -> list[int]:
    """Row of each graph's first node in the chunk's batch."""
    batch = chunk.batch
    if batch.block_size is not None:
        return [k * batch.block_size for k in range(batch.num_graphs)]
    return list(np.cumsum((0, *batch.sizes[:-1])))


class WsgcnObjective:
    """Eq. 2 per graph: ``l_fg + l_bg + b1 l_ent + b2 l_lp``; a term without nodes (no
    background seed, no unlabelled node) is dropped, never NaN.

    ``pairs[i], phi[i]``: graph ``i``'s Laplacian pairs and affinities (see
    :func:`laplacian_pairs`), indexed by the graph's position in ``correct_graphs``' input.
    """

    def __init__(
        self,
        terms: Terms,
        background: int | None,
        num_classes: int,
        pairs: list[np.ndarray],
        phi: list[np.ndarray],
    ):
        self.terms, self.background, self.num_classes = terms, background, num_classes
        self.pairs, self.phi = pairs, phi

    def _laplacian_inputs(self, chunk: TrainingChunk) -> tuple[torch.Tensor, torch.Tensor]:
        """The chunk's sparse ``Phi`` and node degrees, built once per chunk (batch cache)."""

        def make():
            src, dst, phi = [], [], []
            for i, row in zip(chunk.indices, _chunk_rows(chunk), strict=True):
                src.append(self.pairs[i][:, 0] + row)
                dst.append(self.pairs[i][:, 1] + row)
                phi.append(self.phi[i])
            device = chunk.features.device
            src, dst, phi = (
                torch.from_numpy(np.concatenate(a)).to(device) for a in (src, dst, phi)
            )
            return pairwise_affinity_matrix(src, dst, phi, chunk.batch.num_nodes)

        return chunk.batch.cached("wsgcn_laplacian", make)

    @staticmethod
    def _unlabelled(chunk: TrainingChunk) -> tuple[torch.Tensor, torch.Tensor]:
        """The chunk's real nodes without a seed and the graph of each (batch cache)."""

        def make():
            batch = chunk.batch
            mask = torch.zeros(batch.num_nodes, dtype=torch.bool, device=batch.device)
            mask[batch.real_nodes()] = True
            mask[chunk.labelled] = False
            return mask, batch.graph_of_node[mask]

        return chunk.batch.cached("wsgcn_unlabelled", make)

    def __call__(self, logits: torch.Tensor, chunk: TrainingChunk) -> torch.Tensor:
        batch, terms = chunk.batch, self.terms
        graphs = batch.num_graphs
        log_probs = restrict_to_classes(logits, chunk.allowed).log_softmax(1)
        ce = -log_probs.index_select(0, chunk.labelled).gather(1, chunk.targets[:, None])[:, 0]
        is_bg = (
            chunk.targets == self.background
            if self.background is not None
            else torch.zeros_like(chunk.targets, dtype=torch.bool)
        )
        loss = per_graph_mean(ce[~is_bg], chunk.labelled_graph[~is_bg], graphs, empty=0.0)
        loss = loss + per_graph_mean(ce[is_bg], chunk.labelled_graph[is_bg], graphs, empty=0.0)
        if terms.entropy:
            unlabelled, graph_of_unlabelled = self._unlabelled(chunk)
            entropy = node_entropy(log_probs[unlabelled])
            if terms.entropy_over == "mean":
                entropy = entropy / self.num_classes
            mean = per_graph_mean(entropy, graph_of_unlabelled, graphs, empty=0.0)
            loss = loss + terms.entropy_weight * mean
        if terms.laplacian:
            if terms.laplacian_on == "probabilities":
                values = log_probs.exp()
            else:  # classes a node may not take are -inf: leave them out of the differences
                values = log_probs.masked_fill(~chunk.allowed, 0.0)
            matrix, degree = self._laplacian_inputs(chunk)
            energy = laplacian_energy(values, matrix, degree, batch.graph_of_node, graphs)
            sizes = torch.tensor(batch.sizes, dtype=energy.dtype, device=energy.device)
            loss = loss + terms.laplacian_weight * energy / sizes
        return loss


def terms_of(method, settings: dict) -> Terms:
    """The loss terms a registry entry switches on (``options``), with the ``wsgcn`` settings."""
    return Terms(
        entropy=bool(method.options["entropy"]),
        laplacian=bool(method.options["laplacian"]),
        entropy_weight=settings["entropy_weight"],
        laplacian_weight=settings["laplacian_weight"],
        entropy_over=settings["entropy_over"],
        laplacian_on=settings["laplacian_on"],
    )


def correct(method, inputs, ids: list[str], *, cfg: dict, seed: int, device: str):
    """A WSGCN correction run (registry ``node_probabilities``): rows and node probabilities
    per image, None for an image without any seed node (it keeps its CAM labels)."""
    settings = inputs.params["settings"]
    graphs, rows, pairs, phi = [], [], [], []
    for graph, labels, row in supervised_graphs(method, inputs, ids, cfg):
        image = inputs.run.dataset.read_image(row["image_id"])
        allowed = inputs.run.allowed_classes(row["image_id"])
        graphs.append(GraphInput(graph.features, graph.edges, labels, allowed, graph.weights))
        p, f = laplacian_pairs(
            graph.segments,
            graph.edges,
            image,
            settings["sigma_rgb"],
            settings["sigma_xy"],
            settings["xy_unit"],
        )
        pairs.append(p)
        phi.append(f)
        rows.append(row)
    objective = WsgcnObjective(
        terms_of(method, settings), inputs.run.background, inputs.run.num_classes, pairs, phi
    )
    options = {
        **gnn_options(cfg),
        **{key: settings[key] for key in ("hidden", "dropout", "lr", "weight_decay")},
        "epochs": settings["steps"],
        "mode": "per_image",
    }
    probabilities = correct_graphs(
        graphs,
        num_classes=inputs.run.num_classes,
        kind="gcn_row",
        seed=seed,
        keys=[image_key(image_id) for image_id in ids],
        device=str(resolve_device(device)),
        objective=objective,
        **options,
    )
    return rows, probabilities
