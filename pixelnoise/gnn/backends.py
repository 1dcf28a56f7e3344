"""The two graph operations the GNN layers need, in plain PyTorch or in DGL.

Both backends take a :class:`~pixelnoise.gnn.graph.GraphBatch` and agree to float precision:

- ``edge_dot(batch, dst_values[N, H, F], src_values[N, H, F]) -> [E, H]``: per edge
  ``src -> dst``, the dot product of ``dst_values[dst]`` and ``src_values[src]`` per head;
- ``edge_softmax(batch, scores[E, H]) -> [E, H]``: softmax of each node's incoming edges;
- ``aggregate(batch, edge_values[E, H], node_values[N, H, F]) -> [N, H, F]``: for each node,
  the sum over its incoming edges ``src -> node`` of ``edge_value * node_values[src]``.

DGL is unmaintained and pins torch <= 2.2.1, so it is imported only when the ``dgl`` backend is
requested; ``torch`` works everywhere.

>>> from pixelnoise.gnn.graph import batch_graphs
>>> batch = batch_graphs([2], [[[0, 1]]])
>>> get_backend("torch").edge_softmax(batch, torch.zeros(batch.num_edges, 1)).flatten().tolist()
[0.5, 0.5, 0.5, 0.5]
"""

from __future__ import annotations

import os
from typing import Protocol

import torch

from pixelnoise.gnn.graph import GraphBatch

BACKENDS = ("dgl", "torch")


class Backend(Protocol):
    name: str

    def edge_dot(
        self, batch: GraphBatch, dst_values: torch.Tensor, src_values: torch.Tensor
    ) -> torch.Tensor: ...

    def edge_softmax(self, batch: GraphBatch, scores: torch.Tensor) -> torch.Tensor: ...

    def aggregate(
        self, batch: GraphBatch, edge_values: torch.Tensor, node_values: torch.Tensor
    ) -> torch.Tensor: ...


class TorchBackend:
    """Gather/scatter with ``index_select``, ``scatter_reduce`` and ``index_add_``."""

    name = "torch"

    def edge_dot(
        self, batch: GraphBatch, dst_values: torch.Tensor, src_values: torch.Tensor
    ) -> torch.Tensor:
        dst = dst_values.index_select(0, batch.dst)
        return (dst * src_values.index_select(0, batch.src)).sum(-1)

    def edge_softmax(self, batch: GraphBatch, scores: torch.Tensor) -> torch.Tensor:
        dst = batch.dst.unsqueeze(1).expand_as(scores)
        with torch.no_grad():  # the shift cancels out of the softmax: no gradient needed
            peak = scores.new_full((batch.num_nodes, scores.shape[1]), -torch.inf)
            peak = peak.scatter_reduce(0, dst, scores, "amax")
        exp = (scores - peak.index_select(0, batch.dst)).exp()
        total = exp.new_zeros(peak.shape).index_add_(0, batch.dst, exp)
        return exp / total.index_select(0, batch.dst)

    def aggregate(
        self, batch: GraphBatch, edge_values: torch.Tensor, node_values: torch.Tensor
    ) -> torch.Tensor:
        messages = node_values.index_select(0, batch.src) * edge_values.unsqueeze(-1)
        return node_values.new_zeros(node_values.shape).index_add_(0, batch.dst, messages)


class DGLBackend:
    """``dgl.ops`` kernels on a ``dgl.graph`` cached on the batch.

    DGL runs its kernels on its own OpenMP runtime; it is given torch's thread count (which the
    workflow sets per job), as its default of all cores oversubscribes the CPU when jobs run
    in parallel, and spinning OpenMP threads then slow training several-fold.
    """

    name = "dgl"

    def __init__(self):
        os.environ.setdefault("DGLBACKEND", "pytorch")
        try:
            import dgl
        except Exception as error:  # ImportError, or DGL failing against a newer torch
            raise ImportError(
                f"GNN backend 'dgl' needs dgl 2.1.0 with torch <= 2.2.1 ({error!r}); "
                "install the 'graph' extra or use backend 'torch'"
            ) from error
        self._dgl = dgl
        self._threads = 0

    def graph(self, batch: GraphBatch):
        threads = torch.get_num_threads()
        if threads != self._threads:
            self._dgl.utils.set_num_threads(threads)
            self._threads = threads
        return batch.cached(
            "dgl_graph",
            lambda: self._dgl.graph((batch.src, batch.dst), num_nodes=batch.num_nodes),
        )

    def edge_dot(
        self, batch: GraphBatch, dst_values: torch.Tensor, src_values: torch.Tensor
    ) -> torch.Tensor:
        return self._dgl.ops.u_dot_v(self.graph(batch), src_values, dst_values).squeeze(-1)

    def edge_softmax(self, batch: GraphBatch, scores: torch.Tensor) -> torch.Tensor:
        return self._dgl.ops.edge_softmax(self.graph(batch), scores)

    def aggregate(
        self, batch: GraphBatch, edge_values: torch.Tensor, node_values: torch.Tensor
    ) -> torch.Tensor:
        return self._dgl.ops.u_mul_e_sum(self.graph(batch), node_values, edge_values.unsqueeze(-1))


def get_backend(name: str) -> Backend:
    """The backend called ``name`` (``"dgl"`` or ``"torch"``)."""
    if name == "torch":
        return TorchBackend()
    if name == "dgl":
        return DGLBackend()
    raise ValueError(f"unknown GNN backend {name!r}; choose one of {', '.join(BACKENDS)}")
