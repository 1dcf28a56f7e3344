"""Two-layer GAT (Yi et al. eq. 5-7) and GCN (Kipf & Welling) with one weight set per model.

Every parameter has a leading *model* dimension ``M``: ``M = 1`` shares one model over all graphs
of a batch; ``M = num_graphs`` gives graph ``k`` its own model ``k`` (Yi et al. train one GAT per
image), so a batch trains many independent per-image models at once. Model ``k``'s initial
weights and dropout masks come from its own seed only, so its training does not depend on the
other graphs of the batch.

>>> from pixelnoise.gnn.graph import batch_graphs
>>> batch = batch_graphs([3, 2], [[[0, 1], [1, 2]], [[0, 1]]])
>>> model = build_gnn("gat", "torch", in_dim=8, num_classes=4, num_models=2)
>>> model(batch, torch.randn(5, 8)).shape
torch.Size([5, 4])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from pixelnoise.gnn.backends import Backend, get_backend
from pixelnoise.gnn.graph import GraphBatch

#: ``gcn_row``: GCN over the weighted, row-normalised adjacency ``rownorm(max(A, A^T) + I)``
#: (WSGCN eq. 1); ``gcn`` uses Kipf & Welling's symmetric normalisation of the unweighted one.
KINDS = ("gat", "gcn", "gcn_row")


def derive_seed(*keys: int) -> int:
    """A well-mixed 64-bit seed from non-negative integers, e.g. ``(seed, image_index)``."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1, np.uint64)[0])


def grouped_matmul(
    batch: GraphBatch, x: torch.Tensor, *weights: torch.Tensor
) -> list[torch.Tensor]:
    """``x[i] @ weight[model of node i]`` for ``x [N, D]`` and each ``weight [M, D, K]``.

    ``M = 1``: a plain matmul. ``M = num_graphs``: the nodes are padded once to
    ``[M, max_size, D]`` and multiplied with ``torch.bmm`` (graphs of a batch have similar sizes,
    so little is wasted; gathering a ``[D, K]`` matrix per node would need ``N * D * K`` floats).
    """
    models = weights[0].shape[0]
    if models == 1:
        return [x @ w[0] for w in weights]
    if models != batch.num_graphs:
        raise ValueError(f"{models} models for a batch of {batch.num_graphs} graphs")
    n, dim = x.shape
    if batch.block_size is not None or min(batch.sizes) == max(batch.sizes):
        padded = x.view(models, -1, dim)  # already one block of rows per graph
        return [torch.bmm(padded, w).view(n, -1) for w in weights]
    index, max_size = batch.pad_index()
    padded = x.new_zeros(models * max_size, dim).index_copy(0, index, x).view(models, max_size, dim)
    return [
        torch.bmm(padded, w).view(models * max_size, -1).index_select(0, index) for w in weights
    ]


def per_node(batch: GraphBatch, param: torch.Tensor) -> torch.Tensor:
    """A ``[M, K]`` per-model parameter as ``[N, K]`` (``[K]``, broadcast, for one shared model).

    Per-image models (a padded batch) always index, even a batch of one graph: the gradient is
    then summed node by node, in the same order whichever graphs share the batch, where a
    broadcast's reduction would round differently (a shard's lone graph would not match).
    """
    if param.shape[0] == 1 and batch.block_size is None:
        return param[0]
    return param.index_select(0, batch.graph_of_node)


def _glorot(shape: tuple[int, ...], fan_in: int, fan_out: int, generator: torch.Generator):
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return torch.rand(shape, generator=generator) * (2 * bound) - bound


def _select_columns(full: torch.Tensor, columns: torch.Tensor | None, width: int) -> torch.Tensor:
    """``full[..., columns]`` zero-padded to ``width`` columns (``columns=None``: all)."""
    if columns is None:
        return full
    out = full.new_zeros((*full.shape[:-1], width))
    out[..., : len(columns)] = full[..., columns]
    return out


class GATLayer(nn.Module):
    """Multi-head dot-product graph attention (Yi et al. eq. 5-7), one weight set per model.

    Per head: ``e_ij = (W_phi v_i) . (W_psi v_j) / sqrt(att_dim)`` over the incoming edges
    ``j -> i`` (self-loop included), ``alpha = softmax_j(e_ij)``, ``sum_j alpha_ij W_g v_j``.
    The paper's eq. 5 has no scaling; dividing by ``sqrt(att_dim)`` (as in Transformers) keeps
    the initial attention logits O(1) so the softmax does not saturate. ``W_phi, W_psi`` map to
    ``att_dim`` and ``W_g`` to ``value_dim`` dims per head, so the output layer's attention does
    not depend on how many classes it predicts. Heads are concatenated (``merge="concat"``) or
    averaged (``merge="mean"``); a bias per model is added after the merge.
    """

    def __init__(
        self, in_dim: int, att_dim: int, value_dim: int, heads: int, num_models: int, merge: str
    ):
        super().__init__()
        if merge not in ("concat", "mean"):
            raise ValueError(f"merge must be 'concat' or 'mean', got {merge!r}")
        self.in_dim, self.att_dim, self.value_dim = in_dim, att_dim, value_dim
        self.heads, self.merge = heads, merge
        # W_phi (queries), W_psi (keys) and W_g (values) of all heads.
        self.query = nn.Parameter(torch.empty(num_models, in_dim, heads * att_dim))
        self.key = nn.Parameter(torch.empty(num_models, in_dim, heads * att_dim))
        self.value = nn.Parameter(torch.empty(num_models, in_dim, heads * value_dim))
        merged = heads * value_dim if merge == "concat" else value_dim
        self.bias = nn.Parameter(torch.zeros(num_models, merged))

    def init_model(
        self,
        k: int,
        generator: torch.Generator,
        full_value_dim: int | None = None,
        columns: torch.Tensor | None = None,
    ) -> None:
        """Glorot init of model ``k``; with ``columns``, the value columns are those of a layer
        with ``full_value_dim`` values, so the kept classes start exactly as in the full layer.
        """
        h, att, full = self.heads, self.att_dim, full_value_dim or self.value_dim
        query = _glorot((self.in_dim, h * att), self.in_dim, h * att, generator)
        key = _glorot((self.in_dim, h * att), self.in_dim, h * att, generator)
        value = _glorot((self.in_dim, h, full), self.in_dim, h * full, generator)
        value = _select_columns(value, columns, self.value_dim).reshape(self.in_dim, -1)
        with torch.no_grad():
            self.query[k].copy_(query)
            self.key[k].copy_(key)
            self.value[k].copy_(value)
            self.bias[k].zero_()

    def forward(self, batch: GraphBatch, x: torch.Tensor, backend: Backend) -> torch.Tensor:
        n, h = x.shape[0], self.heads
        query, key, value = grouped_matmul(batch, x, self.query, self.key, self.value)
        scores = backend.edge_dot(batch, query.view(n, h, -1), key.view(n, h, -1))
        alpha = backend.edge_softmax(batch, scores / math.sqrt(self.att_dim))
        out = backend.aggregate(batch, alpha, value.view(n, h, -1))
        out = out.reshape(n, -1) if self.merge == "concat" else out.mean(1)
        return out + per_node(batch, self.bias)


class GCNLayer(nn.Module):
    """``D^-1/2 (A + I) D^-1/2 X W + b`` (Kipf & Welling), one ``W, b`` per model.

    ``norm="sym"``: ``A`` is the unweighted adjacency (the edges left after Yi et al.'s eq. 4
    pruning are binary). ``norm="row"``: ``rownorm(A + I) X W + b`` with the batch's edge
    weights (WSGCN).
    """

    def __init__(self, in_dim: int, out_dim: int, num_models: int, norm: str = "sym"):
        super().__init__()
        if norm not in ("sym", "row"):
            raise ValueError(f"norm must be 'sym' or 'row', got {norm!r}")
        self.in_dim, self.out_dim, self.norm = in_dim, out_dim, norm
        self.weight = nn.Parameter(torch.empty(num_models, in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(num_models, out_dim))

    def init_model(
        self,
        k: int,
        generator: torch.Generator,
        full_value_dim: int | None = None,
        columns: torch.Tensor | None = None,
    ) -> None:
        full = full_value_dim or self.out_dim
        weight = _glorot((self.in_dim, full), self.in_dim, full, generator)
        with torch.no_grad():
            self.weight[k].copy_(_select_columns(weight, columns, self.out_dim))
            self.bias[k].zero_()

    def forward(self, batch: GraphBatch, x: torch.Tensor, backend: Backend) -> torch.Tensor:
        [h] = grouped_matmul(batch, x, self.weight)
        norm = batch.gcn_norm() if self.norm == "sym" else batch.row_norm()
        out = backend.aggregate(batch, norm.unsqueeze(1), h.unsqueeze(1))
        return out.squeeze(1) + per_node(batch, self.bias)


class GNN(nn.Module):
    """Two graph layers with ReLU and dropout between them; ``forward`` returns class logits.

    ``classes`` (one class list per model) keeps only those output classes: the others' logits
    are ``-inf``. The kept logits equal those of the full model (same seed), since a class's
    output weights affect no other class; this only saves work when images have few classes.
    """

    def __init__(
        self,
        kind: str,
        backend: str,
        in_dim: int,
        num_classes: int,
        *,
        hidden: int = 16,
        heads: int = 4,
        dropout: float = 0.3,
        num_models: int = 1,
        seed: int | Sequence[int] = 0,
        classes: Sequence[Sequence[int]] | None = None,
    ):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.kind, self.num_models, self.dropout = kind, num_models, dropout
        self.num_classes = num_classes
        if classes is None:
            self.slot_class = None
            outputs = num_classes
        else:
            if len(classes) != num_models:
                raise ValueError(f"{len(classes)} class lists for {num_models} models")
            outputs = max(len(c) for c in classes)
            # Unused slots point at a scratch column num_classes, dropped after the scatter.
            slot_class = torch.full((num_models, outputs), num_classes, dtype=torch.int64)
            for k, c in enumerate(classes):
                c = torch.as_tensor(list(c), dtype=torch.int64)
                if c.numel() == 0 or c.min() < 0 or c.max() >= num_classes:
                    raise ValueError(f"model {k}: classes {c.tolist()} not in [0, {num_classes})")
                if len(c.unique()) != len(c):
                    raise ValueError(f"model {k}: repeated classes in {c.tolist()}")
                slot_class[k, : len(c)] = c
            self.register_buffer("slot_class", slot_class, persistent=False)
            self._class_lists = [torch.as_tensor(list(c), dtype=torch.int64) for c in classes]
        if kind == "gat":
            self.layer1 = GATLayer(in_dim, hidden, hidden, heads, num_models, merge="concat")
            self.layer2 = GATLayer(heads * hidden, hidden, outputs, heads, num_models, merge="mean")
        elif kind in ("gcn", "gcn_row"):
            norm = "sym" if kind == "gcn" else "row"
            self.layer1 = GCNLayer(in_dim, hidden, num_models, norm)
            self.layer2 = GCNLayer(hidden, outputs, num_models, norm)
        else:
            raise ValueError(f"unknown GNN kind {kind!r}; choose one of {', '.join(KINDS)}")
        self.backend = get_backend(backend)
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int | Sequence[int]) -> None:
        """Initialise model ``k`` from ``seeds[k]`` alone (an int ``s`` means ``seeds[k] =
        derive_seed(s, k)``); its dropout masks are drawn from a generator seeded the same way.
        """
        if isinstance(seed, numbers.Integral):
            seeds = [derive_seed(int(seed), k) for k in range(self.num_models)]
        else:
            seeds = [int(s) for s in seed]
        if len(seeds) != self.num_models:
            raise ValueError(f"{len(seeds)} seeds for {self.num_models} models")
        for k, s in enumerate(seeds):
            generator = torch.Generator().manual_seed(s)
            columns = None if self.slot_class is None else self._class_lists[k]
            self.layer1.init_model(k, generator)
            self.layer2.init_model(k, generator, self.num_classes, columns)
        # numpy's PCG64 draws uniform floats several times faster than torch's CPU generator.
        self._dropout_rngs = [np.random.default_rng(derive_seed(s, 1)) for s in seeds]

    def _apply_dropout(self, batch: GraphBatch, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.dropout == 0:
            return x
        width, rngs = x.shape[1], self._dropout_rngs
        if self.num_models == 1:
            noise = rngs[0].random(x.shape, dtype=np.float32)
        else:  # one stream per model and real node, so graph k's masks ignore the other graphs
            parts = [
                r.random((n, width), dtype=np.float32)
                for n, r in zip(batch.sizes, rngs, strict=True)
            ]
            if batch.block_size is None:
                noise = np.concatenate(parts)
            else:
                noise = np.ones((len(parts), batch.block_size, width), dtype=np.float32)
                for block, part in zip(noise, parts, strict=True):
                    block[: len(part)] = part
                noise = noise.reshape(-1, width)
        scale = (noise >= self.dropout).astype(np.float32) / np.float32(1 - self.dropout)
        return x * torch.from_numpy(scale).to(x.device)

    def forward(self, batch: GraphBatch, features: torch.Tensor) -> torch.Tensor:
        h = self.layer1(batch, features, self.backend).relu()
        logits = self.layer2(batch, self._apply_dropout(batch, h), self.backend)
        if self.slot_class is None:
            return logits
        full = logits.new_full((logits.shape[0], self.num_classes + 1), -torch.inf)
        index = per_node(batch, self.slot_class).expand_as(logits)
        return full.scatter(1, index, logits)[:, : self.num_classes]


def build_gnn(
    kind: str,
    backend: str,
    in_dim: int,
    num_classes: int,
    *,
    hidden: int = 16,
    heads: int = 4,
    dropout: float = 0.3,
    num_models: int = 1,
    seed: int | Sequence[int] = 0,
    classes: Sequence[Sequence[int]] | None = None,
) -> GNN:
    """A two-layer ``"gat"``, ``"gcn"`` or ``"gcn_row"`` on the ``"dgl"`` or ``"torch"`` backend.

    GAT: ``heads`` heads of ``hidden`` dims concatenated, ReLU, dropout, then ``heads`` heads of
    ``num_classes`` logits averaged (attention over ``hidden`` dims per head). GCN: ``hidden``
    dims, ReLU, dropout, ``num_classes`` logits. ``classes``: see :class:`GNN`.
    """
    return GNN(
        kind,
        backend,
        in_dim,
        num_classes,
        hidden=hidden,
        heads=heads,
        dropout=dropout,
        num_models=num_models,
        seed=seed,
        classes=classes,
    )
