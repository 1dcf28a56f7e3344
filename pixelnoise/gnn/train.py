"""Correcting noisy labels (Yi et al. Sec. III-C-2): train a GNN on each image's clean superpixel
labels and predict every superpixel.

Each image's logits are restricted to its classes (``GraphInput.allowed``): the others are set to
``-inf`` before the softmax, in the loss and in the prediction. The loss is a per-graph
*objective* (``objective(logits, chunk) -> [num_graphs]``); the default,
:func:`cross_entropy_objective`, is eq. 9, the cross entropy over the superpixels with a clean
label, averaged per image. Other families plug their terms (entropy, Laplacian) in the same way.

>>> rng = np.random.default_rng(0)
>>> graph = GraphInput(
...     features=rng.normal(size=(4, 3)).astype(np.float32),
...     edges=np.array([[0, 1], [1, 2], [2, 3]]),
...     labels=np.array([0, 255, 255, 5], dtype=np.uint8),
...     allowed=[0, 5],
... )
>>> options = dict(hidden=16, heads=4, dropout=0.3, lr=0.01, weight_decay=5e-4, batch_size=32)
>>> [probs] = correct_graphs([graph], num_classes=6, kind="gat", backend="torch", mode="per_image",
...                          epochs=5, **options)
>>> probs.shape, bool((probs[:, 1:5] == 0).all()), np.allclose(probs.sum(1), 1)
((4, 6), True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from pixelnoise.gnn.graph import GraphBatch, batch_graphs
from pixelnoise.gnn.layers import build_gnn, derive_seed
from pixelnoise.losses import graph_cross_entropy, restrict_to_classes

UNLABELLED = 255
MODES = ("per_image", "shared")


@dataclass
class GraphInput:
    """One image's superpixel graph.

    ``features``: ``N x D`` float32; ``edges``: ``E x 2`` int64 undirected node pairs;
    ``labels``: ``N`` uint8 clean labels, 255 where the superpixel has none; ``allowed``: the
    class indices this image may take (its image-level labels, plus background if any);
    ``weights``: ``E`` edge weights for GNNs that use them (``gcn_row``), else None.
    """

    features: np.ndarray
    edges: np.ndarray
    labels: np.ndarray
    allowed: Sequence[int]
    weights: np.ndarray | None = None


@dataclass
class TrainingChunk:
    """Graphs ``indices`` of the input, batched, as tensors ready for training: what an
    objective sees besides the logits."""

    indices: list[int]
    batch: GraphBatch
    features: torch.Tensor  # [N, D], standardised
    allowed: torch.Tensor  # [N, C] bool
    labelled: torch.Tensor  # [P] node index
    targets: torch.Tensor  # [P] class
    labelled_graph: torch.Tensor  # [P] graph of the node within the chunk
    labelled_count: torch.Tensor  # [num_graphs] float

    def probabilities(self, logits: torch.Tensor) -> list[np.ndarray]:
        probs = restrict_to_classes(logits, self.allowed).softmax(1)
        probs = probs.masked_fill(~self.allowed, 0.0)  # exactly 0 (softmax of -inf already is)
        probs = probs.index_select(0, self.batch.real_nodes()).float().cpu()
        return [p.numpy() for p in probs.split(list(self.batch.sizes))]


#: A per-graph training objective: (node logits ``[N, C]``, the chunk) -> one loss per graph.
Objective = Callable[[torch.Tensor, TrainingChunk], torch.Tensor]


def cross_entropy_objective(logits: torch.Tensor, chunk: TrainingChunk) -> torch.Tensor:
    """Yi et al. eq. 9, averaged over each graph's labelled nodes, ``[num_graphs]``."""
    return graph_cross_entropy(
        logits,
        chunk.allowed,
        chunk.labelled,
        chunk.targets,
        chunk.labelled_graph,
        chunk.labelled_count,
    )


def adam(lr: float, weight_decay: float) -> Callable[[torch.nn.Module], torch.optim.Optimizer]:
    """The optimiser of Yi et al. (and WSGCN): Adam with L2 weight decay."""

    def make(model: torch.nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    return make


def _validate(graphs: Sequence[GraphInput], num_classes: int) -> None:
    dims = set()
    for i, g in enumerate(graphs):
        features, labels = np.asarray(g.features), np.asarray(g.labels)
        if features.ndim != 2 or labels.shape != (features.shape[0],):
            raise ValueError(
                f"graph {i}: features must be N x D and labels N, got {features.shape} "
                f"and {labels.shape}"
            )
        dims.add(features.shape[1])
        allowed = np.asarray(g.allowed, dtype=np.int64)
        if allowed.size == 0 or allowed.min() < 0 or allowed.max() >= num_classes:
            raise ValueError(
                f"graph {i}: allowed classes {allowed.tolist()} not in [0, {num_classes})"
            )
        stray = np.setdiff1d(labels[labels != UNLABELLED], allowed)
        if stray.size:
            raise ValueError(f"graph {i}: clean labels {stray.tolist()} are not allowed classes")
    if len(dims) > 1:
        raise ValueError(f"graphs have different feature dimensions {sorted(dims)}")


def _standardise(features: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((features - mean) / np.where(std > 0, std, 1)).astype(np.float32)


def _make_chunk(
    graphs: Sequence[GraphInput],
    indices: list[int],
    num_classes: int,
    device: str,
    stats: tuple[np.ndarray, np.ndarray] | None,
    pad: bool,
) -> TrainingChunk:
    """``stats=None``: standardise each graph on its own. ``pad``: a padded batch (per-image
    models), whose node tensors reshape to ``[graphs, block, ...]`` for free."""
    chosen = [graphs[i] for i in indices]
    sizes = [len(g.labels) for g in chosen]
    block = max(sizes) if pad else None
    weighted = [g.weights is not None for g in chosen]
    if any(weighted) and not all(weighted):
        raise ValueError("either every graph has edge weights or none has")
    batch = batch_graphs(
        sizes,
        [g.edges for g in chosen],
        device=device,
        pad_to=block,
        weights_list=[g.weights for g in chosen] if all(weighted) else None,
    )
    features = np.zeros((batch.num_nodes, np.asarray(chosen[0].features).shape[1]), np.float32)
    labels = np.full(batch.num_nodes, UNLABELLED, np.int64)
    allowed = np.zeros((len(chosen), num_classes), dtype=bool)
    rows = batch.real_nodes().cpu().numpy()
    start = 0
    for k, (g, n) in enumerate(zip(chosen, sizes, strict=True)):
        x = np.asarray(g.features, dtype=np.float64)
        mean, std = stats if stats is not None else (x.mean(0), x.std(0))
        features[rows[start : start + n]] = _standardise(x, mean, std)
        labels[rows[start : start + n]] = np.asarray(g.labels)
        allowed[k, np.asarray(g.allowed, dtype=np.int64)] = True
        start += n
    labelled = torch.from_numpy(np.flatnonzero(labels != UNLABELLED)).to(device)
    labelled_graph = batch.graph_of_node.index_select(0, labelled)
    count = torch.zeros(len(chosen), device=device).index_add_(
        0, labelled_graph, torch.ones(len(labelled), device=device)
    )
    return TrainingChunk(
        indices=indices,
        batch=batch,
        features=torch.from_numpy(features).to(device),
        allowed=torch.from_numpy(allowed).to(device).index_select(0, batch.graph_of_node),
        labelled=labelled,
        targets=torch.from_numpy(labels).to(device).index_select(0, labelled),
        labelled_graph=labelled_graph,
        labelled_count=count,
    )


def correct_graphs(
    graphs: Sequence[GraphInput],
    *,
    num_classes: int,
    kind: str,
    backend: str,
    mode: str,
    hidden: int,
    heads: int,
    dropout: float,
    lr: float,
    weight_decay: float,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    keys: Sequence[int] | None = None,
    device: str = "cpu",
    objective: Objective = cross_entropy_objective,
    optimizer: Callable[[torch.nn.Module], torch.optim.Optimizer] | None = None,
) -> list[np.ndarray | None]:
    """Per-graph node class probabilities (``N x num_classes`` float32), ``None`` for a graph
    without any clean label (not trained; the caller falls back to its CAM labels).

    ``mode="per_image"``: every graph gets its own model (Yi et al.), initialised from
    ``derive_seed(seed, keys[i])`` for graph ``i`` (``keys``: non-negative integers naming the
    graphs, e.g. from image ids, so that a graph's model does not depend on its place in the
    list; default its index); ``batch_size`` graphs are trained jointly on the sum of their
    losses, which keeps them independent because no parameter is shared (Adam is elementwise).
    A graph's result therefore does not depend on the other graphs or on ``batch_size``: on CPU
    not even in the last bit (per-model gradients are summed graph by graph, see
    ``layers.per_node``), except for graphs of a few nodes, whose tiny matrix products ATen
    computes with a kernel chosen by the size of the batch's largest graph. Features are
    standardised per graph and dimension, as the feature scale differs between images.

    ``mode="shared"``: one model for all graphs, trained for ``epochs`` passes over chunks of
    ``batch_size`` graphs (one Adam step per chunk, chunk order shuffled each epoch), then
    predicting all; features are standardised over the whole set, to keep one common scale.

    A graph whose image has one allowed class needs no training: all its nodes get that class.
    Deterministic for a given ``seed`` on CPU (own generators; the global RNG is not touched).

    ``objective`` gives each graph's loss (default eq. 9); in per-image mode the graphs' losses
    are summed, in shared mode averaged. ``optimizer`` builds the optimiser from a model
    (default :func:`adam` with ``lr`` and ``weight_decay``). The hyperparameters have no
    defaults here: they come from the config (``correct`` in the schema), the one place that
    documents them, e.g. why few epochs: the clean labels are still somewhat noisy, and longer
    training memorises the noise.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs} and {batch_size}")
    _validate(graphs, num_classes)
    keys = list(range(len(graphs))) if keys is None else [int(k) for k in keys]
    if len(keys) != len(graphs):
        raise ValueError(f"{len(keys)} keys for {len(graphs)} graphs")
    results: list[np.ndarray | None] = [None] * len(graphs)
    todo = []
    for i, g in enumerate(graphs):
        if not (np.asarray(g.labels) != UNLABELLED).any():
            continue
        allowed = np.unique(np.asarray(g.allowed, dtype=np.int64))
        if len(allowed) == 1:
            results[i] = np.zeros((len(g.labels), num_classes), dtype=np.float32)
            results[i][:, allowed[0]] = 1.0
        else:
            todo.append(i)
    if not todo:
        return results
    if mode == "per_image":  # similar sizes together: less padding, same per-image results
        todo.sort(key=lambda i: len(graphs[i].labels))
    chunks = [todo[s : s + batch_size] for s in range(0, len(todo), batch_size)]
    in_dim = np.asarray(graphs[todo[0]].features).shape[1]
    options = dict(hidden=hidden, heads=heads, dropout=dropout)
    make_optimizer = optimizer or adam(lr, weight_decay)

    if mode == "per_image":
        for indices in tqdm(chunks, desc=f"{kind} per image", unit="chunk", mininterval=10):
            chunk = _make_chunk(graphs, indices, num_classes, device, stats=None, pad=True)
            seeds = [derive_seed(seed, keys[i]) for i in indices]
            classes = [sorted(set(graphs[i].allowed)) for i in indices]
            model = build_gnn(
                kind,
                backend,
                in_dim,
                num_classes,
                num_models=len(indices),
                seed=seeds,
                classes=classes,  # only the image's classes: same result, less work
                **options,
            ).to(device)
            solver = make_optimizer(model)
            model.train()
            for _ in range(epochs):
                solver.zero_grad(set_to_none=True)
                objective(model(chunk.batch, chunk.features), chunk).sum().backward()
                solver.step()
            _predict(model, chunk, results)
        return results

    stacked = np.concatenate([np.asarray(graphs[i].features, dtype=np.float64) for i in todo])
    stats = (stacked.mean(0), stacked.std(0))
    prepared = [
        _make_chunk(graphs, indices, num_classes, device, stats, pad=False) for indices in chunks
    ]
    model = build_gnn(kind, backend, in_dim, num_classes, seed=seed, **options).to(device)
    solver = make_optimizer(model)
    order_rng = np.random.default_rng(derive_seed(seed, 2**32))
    model.train()
    for _ in range(epochs):
        for c in order_rng.permutation(len(prepared)):
            chunk = prepared[c]
            solver.zero_grad(set_to_none=True)
            objective(model(chunk.batch, chunk.features), chunk).mean().backward()
            solver.step()
    for chunk in prepared:
        _predict(model, chunk, results)
    return results


def _predict(model, chunk: TrainingChunk, results: list[np.ndarray | None]) -> None:
    model.eval()
    with torch.no_grad():
        probs = chunk.probabilities(model(chunk.batch, chunk.features))
    for i, p in zip(chunk.indices, probs, strict=True):
        results[i] = p
