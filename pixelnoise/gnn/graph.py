"""Block-diagonal batches of small undirected graphs (one superpixel graph per image).

Every undirected edge ``(i, j)`` becomes the two directed edges ``i -> j`` and ``j -> i``, and
every node gets a self-loop, so a node always has at least one incoming edge: isolated nodes and
one-node graphs need no special case in the softmax over neighbours or in GCN's degree.

>>> batch = batch_graphs([3, 1], [[[0, 1]], []])
>>> batch.num_nodes, batch.num_edges, batch.graph_of_node.tolist()
(4, 6, [0, 0, 0, 1])
>>> list(zip(batch.src.tolist(), batch.dst.tolist()))
[(0, 1), (1, 0), (0, 0), (1, 1), (2, 2), (3, 3)]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass(eq=False)
class GraphBatch:
    """Directed edges ``src -> dst`` (both directions plus self-loops) over ``num_nodes`` nodes.

    Nodes and edges of graph ``g`` are contiguous and come before those of graph ``g + 1``; graph
    ``g`` has ``sizes[g]`` nodes. A *padded* batch (``block_size`` set) gives every graph
    ``block_size`` node rows, the real nodes first, then padding nodes without any edge, so
    per-graph node tensors are a plain ``[num_graphs, block_size, ...]`` view.
    Derived structures (node index, GCN normalisation, the DGL graph) are cached on the object.
    """

    src: torch.Tensor
    dst: torch.Tensor
    num_nodes: int
    graph_of_node: torch.Tensor
    graph_of_edge: torch.Tensor
    num_graphs: int
    sizes: tuple[int, ...]
    block_size: int | None = None
    #: Weight of each directed edge (self-loops 1), or None for an unweighted graph.
    edge_weight: torch.Tensor | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def num_edges(self) -> int:
        return int(self.src.shape[0])

    @property
    def device(self) -> torch.device:
        return self.src.device

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()`` computed once per batch (e.g. a backend's own graph object)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def to(self, device: torch.device | str) -> GraphBatch:
        return GraphBatch(
            self.src.to(device),
            self.dst.to(device),
            self.num_nodes,
            self.graph_of_node.to(device),
            self.graph_of_edge.to(device),
            self.num_graphs,
            self.sizes,
            self.block_size,
            None if self.edge_weight is None else self.edge_weight.to(device),
        )

    def real_nodes(self) -> torch.Tensor:
        """Rows of the real (non-padding) nodes, graph by graph."""

        def make():
            if self.block_size is None:
                return torch.arange(self.num_nodes, device=self.device)
            rows = [g * self.block_size + np.arange(n) for g, n in enumerate(self.sizes)]
            return torch.from_numpy(np.concatenate(rows)).to(self.device)

        return self.cached("real_nodes", make)

    def pad_index(self) -> tuple[torch.Tensor, int]:
        """Row of each node of an unpadded batch in a ``[num_graphs, max_size]`` padded layout,
        and ``max_size``."""

        def make():
            max_size = max(self.sizes)
            starts = torch.tensor(np.cumsum((0, *self.sizes[:-1])), device=self.device)
            pos = torch.arange(self.num_nodes, device=self.device) - starts[self.graph_of_node]
            return self.graph_of_node * max_size + pos, max_size

        return self.cached("pad_index", make)

    def gcn_norm(self) -> torch.Tensor:
        """The ``D^-1/2 (A + I) D^-1/2`` entry of every edge (A unweighted), ``[E]``."""

        def make():
            degree = torch.zeros(self.num_nodes, device=self.device)
            degree.index_add_(0, self.dst, torch.ones(self.num_edges, device=self.device))
            inv_sqrt = degree.rsqrt()
            return inv_sqrt[self.src] * inv_sqrt[self.dst]

        return self.cached("gcn_norm", make)

    def row_norm(self) -> torch.Tensor:
        """The ``rownorm(A + I)`` entry of every edge, ``[E]``: each node's incoming edge weights
        (self-loop 1; all 1 for an unweighted graph) divided by their sum (WSGCN's adjacency)."""

        def make():
            weight = self.edge_weight
            if weight is None:
                weight = torch.ones(self.num_edges, device=self.device)
            total = weight.new_zeros(self.num_nodes).index_add_(0, self.dst, weight)
            return weight / total[self.dst]

        return self.cached("row_norm", make)


def batch_graphs(
    num_nodes_list: Sequence[int],
    edges_list: Sequence[np.ndarray | Sequence[Sequence[int]]],
    device: torch.device | str = "cpu",
    pad_to: int | None = None,
    weights_list: Sequence[np.ndarray | Sequence[float]] | None = None,
) -> GraphBatch:
    """One block-diagonal batch of undirected graphs given as ``E x 2`` node-index pairs.

    Pairs are taken as undirected: ``(j, i)`` equals ``(i, j)``; duplicates and self-pairs are
    dropped (the self-loop is added anyway). ``pad_to``: make a padded batch with that
    ``block_size`` (at least the largest graph). ``weights_list``: one weight per pair, per
    graph; both directions of a pair get the largest weight given for it (``max(A, A^T)``),
    self-loops weight 1.

    >>> batch = batch_graphs([2], [[[0, 1], [1, 0]]], weights_list=[[0.5, 0.25]])
    >>> batch.edge_weight.tolist(), [round(w, 4) for w in batch.row_norm().tolist()]
    ([0.5, 0.5, 1.0, 1.0], [0.3333, 0.3333, 0.6667, 0.6667])
    """
    if weights_list is not None and len(weights_list) != len(edges_list):
        raise ValueError(f"{len(weights_list)} weight lists for {len(edges_list)} graphs")
    if len(num_nodes_list) != len(edges_list):
        raise ValueError(f"{len(num_nodes_list)} node counts but {len(edges_list)} edge lists")
    if not num_nodes_list:
        raise ValueError("batch_graphs needs at least one graph")
    sizes = tuple(int(n) for n in num_nodes_list)
    if pad_to is not None and pad_to < max(sizes):
        raise ValueError(f"pad_to={pad_to} is smaller than the largest graph ({max(sizes)} nodes)")
    src_parts, dst_parts, weight_parts, edge_counts = [], [], [], []
    offset = 0
    for g, (n, edges) in enumerate(zip(num_nodes_list, edges_list, strict=True)):
        n = int(n)
        if n < 1:
            raise ValueError(f"graph {g} has {n} nodes; every graph needs at least one")
        edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        if edges.size and (edges.min() < 0 or edges.max() >= n):
            raise ValueError(f"graph {g}: edge node index outside [0, {n})")
        lo, hi = edges.min(axis=1), edges.max(axis=1)
        proper = lo != hi
        keys, first = np.unique((lo * n + hi)[proper], return_inverse=True)
        if weights_list is not None:
            given = np.asarray(weights_list[g], dtype=np.float32).reshape(-1)
            if len(given) != len(edges):
                raise ValueError(f"graph {g}: {len(edges)} pairs but {len(given)} weights")
            weight = np.full(len(keys), -np.inf, np.float32)
            np.maximum.at(weight, first.reshape(-1), given[proper])
            weight_parts += [weight, weight, np.ones(n, np.float32)]
        lo, hi = keys // n + offset, keys % n + offset
        loops = np.arange(offset, offset + n)
        src_parts += [lo, hi, loops]
        dst_parts += [hi, lo, loops]
        edge_counts.append(2 * len(keys) + n)
        offset += n if pad_to is None else pad_to
    graph_ids = torch.arange(len(sizes), device=device)
    rows = torch.tensor(sizes if pad_to is None else [pad_to] * len(sizes), device=device)
    return GraphBatch(
        src=torch.from_numpy(np.concatenate(src_parts)).to(device),
        dst=torch.from_numpy(np.concatenate(dst_parts)).to(device),
        num_nodes=offset,
        graph_of_node=graph_ids.repeat_interleave(rows),
        graph_of_edge=graph_ids.repeat_interleave(torch.tensor(edge_counts, device=device)),
        num_graphs=len(sizes),
        sizes=sizes,
        block_size=pad_to,
        edge_weight=None
        if weights_list is None
        else torch.from_numpy(np.concatenate(weight_parts)).to(device),
    )
