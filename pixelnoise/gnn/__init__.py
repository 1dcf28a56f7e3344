"""Graph neural networks that correct noisy superpixel labels (Yi et al. Sec. III-C-2).

- :mod:`~pixelnoise.gnn.graph`: :class:`GraphBatch`, block-diagonal batches with self-loops;
- :mod:`~pixelnoise.gnn.backends`: ``edge_softmax`` / ``aggregate`` in plain PyTorch or DGL;
- :mod:`~pixelnoise.gnn.layers`: GAT and GCN layers with per-image weights, :func:`build_gnn`;
- :mod:`~pixelnoise.gnn.train`: :func:`correct_graphs`, training (with a per-graph objective) and
  prediction per image.
"""

from pixelnoise.gnn.backends import get_backend
from pixelnoise.gnn.graph import GraphBatch, batch_graphs
from pixelnoise.gnn.layers import GNN, build_gnn
from pixelnoise.gnn.train import (
    GraphInput,
    Objective,
    TrainingChunk,
    correct_graphs,
    cross_entropy_objective,
)

__all__ = [
    "GNN",
    "GraphBatch",
    "GraphInput",
    "Objective",
    "TrainingChunk",
    "batch_graphs",
    "build_gnn",
    "correct_graphs",
    "cross_entropy_objective",
    "get_backend",
]
