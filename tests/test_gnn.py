import os

os.environ.setdefault("DGLBACKEND", "pytorch")

import numpy as np
import pytest
import torch

from pixelnoise.config import schema_defaults
from pixelnoise.correction import gnn_options
from pixelnoise.gnn import GraphInput, batch_graphs, build_gnn, correct_graphs, get_backend

UNLABELLED = 255
# The workflow's GNN settings (the config's correct section); tests override what they vary.
GNN = {"kind": "gat", **gnn_options(schema_defaults()["correct"])}


def gnn(**overrides) -> dict:
    """``correct_graphs`` settings: the config defaults with ``overrides``."""
    return {**GNN, **overrides}


@pytest.fixture(autouse=True)
def one_thread_and_seeded():
    """These graphs are tiny: threads only add OpenMP spin-waits, fatal on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the dgl backend follows torch's thread count
    torch.manual_seed(0)  # random test inputs
    yield
    torch.set_num_threads(threads)


@pytest.fixture(params=["torch", "dgl"])
def backend(request):
    try:
        get_backend(request.param)
    except ImportError as error:
        pytest.skip(f"dgl backend unavailable: {error}")
    return request.param


@pytest.fixture
def dgl_backend():
    try:
        return get_backend("dgl")
    except ImportError as error:
        pytest.skip(f"dgl backend unavailable: {error}")


def random_batch(seed=0, pad_to=None):
    """3 graphs: 6 nodes with an isolated node (5), a one-node graph, 8 nodes."""
    rng = np.random.default_rng(seed)
    edges = [
        np.array([[0, 1], [1, 2], [2, 3], [3, 4], [0, 2], [1, 4]]),
        np.zeros((0, 2), np.int64),
        np.array([[i, j] for i in range(8) for j in range(i + 1, 8) if rng.random() < 0.4]),
    ]
    return batch_graphs([6, 1, 8], edges, pad_to=pad_to)


def two_communities(rng, size=20, labelled_fraction=0.3, classes=(0, 1)):
    """Two cliques joined by one edge; features = community centre + noise, so noisy that
    features alone classify only 50-75% of the nodes: the GNN must propagate over the graph."""
    n = 2 * size
    edges = [
        [i, j]
        for c in range(2)
        for i in range(c * size, (c + 1) * size)
        for j in range(i + 1, (c + 1) * size)
    ]
    edges.append([size - 1, size])
    truth = np.repeat(np.asarray(classes), size)
    centres = rng.normal(size=(2, 8))
    features = centres[np.repeat([0, 1], size)] + rng.normal(scale=3.0, size=(n, 8))
    labels = np.full(n, UNLABELLED, np.uint8)
    for c in range(2):  # stratified: 30% of each community labelled
        members = np.arange(c * size, (c + 1) * size)
        chosen = rng.choice(members, int(labelled_fraction * size), replace=False)
        labels[chosen] = truth[chosen]
    graph = GraphInput(features.astype(np.float32), np.array(edges), labels, list(classes))
    return graph, truth


# --- graph batch ------------------------------------------------------------------------------


def test_batch_graphs_adds_both_directions_and_self_loops():
    batch = batch_graphs([3, 2], [np.array([[1, 0], [0, 1], [2, 2]]), np.array([[0, 1]])])
    pairs = set(zip(batch.src.tolist(), batch.dst.tolist(), strict=True))
    assert pairs == {(0, 1), (1, 0), (0, 0), (1, 1), (2, 2), (3, 4), (4, 3), (3, 3), (4, 4)}
    assert batch.num_edges == len(pairs)  # duplicate and self pairs dropped
    assert batch.graph_of_node.tolist() == [0, 0, 0, 1, 1]
    assert batch.graph_of_edge.tolist() == [0] * 5 + [1] * 4
    assert (batch.graph_of_node[batch.src] == batch.graph_of_edge).all()
    assert (batch.graph_of_node[batch.dst] == batch.graph_of_edge).all()
    assert batch.src.dtype == batch.dst.dtype == torch.int64


def test_padded_batch_gives_every_graph_a_block_of_rows():
    batch = batch_graphs([3, 1], [np.array([[0, 1]]), np.zeros((0, 2))], pad_to=3)
    assert batch.num_nodes == 6 and batch.block_size == 3 and batch.sizes == (3, 1)
    assert batch.real_nodes().tolist() == [0, 1, 2, 3]
    assert batch.graph_of_node.tolist() == [0, 0, 0, 1, 1, 1]
    pairs = set(zip(batch.src.tolist(), batch.dst.tolist(), strict=True))
    assert pairs == {(0, 1), (1, 0), (0, 0), (1, 1), (2, 2), (3, 3)}  # padding 4, 5: no edges


def test_batch_graphs_rejects_bad_edges():
    with pytest.raises(ValueError, match="graph 0"):
        batch_graphs([2], [np.array([[0, 2]])])
    with pytest.raises(ValueError, match="at least one"):
        batch_graphs([0], [np.zeros((0, 2))])


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown GNN backend 'pyg'"):
        get_backend("pyg")
    with pytest.raises(ValueError, match="unknown GNN kind 'gin'"):
        build_gnn("gin", "torch", 4, 3)


# --- backends ---------------------------------------------------------------------------------


def dense_adjacency(batch, edge_values):
    """[H, N, N] with entry (h, dst, src) = edge value."""
    heads = edge_values.shape[1]
    dense = torch.zeros(heads, batch.num_nodes, batch.num_nodes, dtype=edge_values.dtype)
    dense[:, batch.dst, batch.src] = edge_values.T
    return dense


def test_edge_softmax_sums_to_one_over_incoming_edges(backend):
    batch = random_batch()
    scores = torch.randn(batch.num_edges, 3) * 5
    alpha = get_backend(backend).edge_softmax(batch, scores)
    totals = torch.zeros(batch.num_nodes, 3).index_add_(0, batch.dst, alpha)
    torch.testing.assert_close(totals, torch.ones_like(totals))
    assert (alpha > 0).all()
    # softmax over the dense row of each node (missing edges = -inf)
    dense = dense_adjacency(batch, scores).masked_fill(
        dense_adjacency(batch, alpha) == 0, -torch.inf
    )
    torch.testing.assert_close(dense_adjacency(batch, alpha), dense.softmax(-1).nan_to_num())


def test_aggregate_and_edge_dot_match_dense(backend):
    batch = random_batch()
    ops = get_backend(backend)
    edge_values = torch.randn(batch.num_edges, 2, dtype=torch.float64)
    node_values = torch.randn(batch.num_nodes, 2, 5, dtype=torch.float64)
    expected = torch.einsum("hij,jhf->ihf", dense_adjacency(batch, edge_values), node_values)
    torch.testing.assert_close(ops.aggregate(batch, edge_values, node_values), expected)
    queries = torch.randn(batch.num_nodes, 2, 5, dtype=torch.float64)
    all_dots = torch.einsum("ihf,jhf->hij", queries, node_values)
    expected_dots = all_dots[:, batch.dst, batch.src].T
    torch.testing.assert_close(ops.edge_dot(batch, queries, node_values), expected_dots)


@pytest.mark.parametrize("kind", ["gat", "gcn"])
@pytest.mark.parametrize(
    "num_models, pad_to", [(3, None), (3, 9), (1, None)], ids=["per_image", "padded", "shared"]
)
def test_backends_agree_on_outputs_and_gradients(kind, num_models, pad_to, dgl_backend):
    batch = random_batch(pad_to=pad_to)
    features = torch.randn(batch.num_nodes, 6)
    outputs, grads, weights = {}, {}, None
    for name in ("torch", "dgl"):
        model = build_gnn(kind, name, 6, 4, hidden=5, heads=3, num_models=num_models, seed=7)
        if weights is None:
            weights = {n: 0.5 * torch.randn_like(p) for n, p in model.state_dict().items()}
        model.load_state_dict(weights)
        model.train()  # dropout on: same seeds give the same masks in both backends
        logits = model(batch, features)
        (logits * torch.linspace(-1, 1, logits.numel()).view_as(logits)).sum().backward()
        outputs[name] = logits.detach()
        grads[name] = {n: p.grad for n, p in model.named_parameters()}
    torch.testing.assert_close(outputs["torch"], outputs["dgl"], atol=1e-5, rtol=1e-5)
    for name, grad in grads["torch"].items():
        torch.testing.assert_close(grad, grads["dgl"][name], atol=5e-5, rtol=1e-4)


# --- layers -----------------------------------------------------------------------------------


def test_models_are_initialised_from_their_own_seed():
    from pixelnoise.gnn.layers import derive_seed

    together = build_gnn("gat", "torch", 6, 4, num_models=3, seed=[11, 12, 13])
    alone = build_gnn("gat", "torch", 6, 4, num_models=1, seed=[12])
    for name, param in alone.named_parameters():
        assert torch.equal(together.get_parameter(name)[1], param[0]), name
    by_int = build_gnn("gcn", "torch", 6, 4, num_models=2, seed=5)
    by_list = build_gnn(
        "gcn", "torch", 6, 4, num_models=2, seed=[derive_seed(5, k) for k in (0, 1)]
    )
    assert torch.equal(by_int.layer1.weight, by_list.layer1.weight)


@pytest.mark.parametrize("kind", ["gat", "gcn"])
def test_class_subsets_equal_the_masked_full_model(kind):
    """Keeping only the allowed output classes is an optimisation, not a change of model."""
    batch = random_batch()
    features = torch.randn(batch.num_nodes, 6)
    classes = [[0, 3], [2], [1, 2, 4]]
    allowed = torch.zeros(3, 5, dtype=torch.bool)
    for k, c in enumerate(classes):
        allowed[k, c] = True
    allowed = allowed[batch.graph_of_node]
    full = build_gnn(kind, "torch", 6, 5, num_models=3, seed=3)
    subset = build_gnn(kind, "torch", 6, 5, num_models=3, seed=3, classes=classes)
    graph_ids = batch.graph_of_node.tolist()
    targets = torch.tensor([classes[g][i % len(classes[g])] for i, g in enumerate(graph_ids)])
    for model in (full, subset):
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=5e-4)
        for _ in range(5):
            optimizer.zero_grad()
            logits = model(batch, features).masked_fill(~allowed, -torch.inf)
            torch.nn.functional.cross_entropy(logits, targets).backward()
            optimizer.step()
    model_outputs = []
    for model in (full, subset):
        model.eval()
        with torch.no_grad():
            model_outputs.append(model(batch, features).masked_fill(~allowed, -torch.inf))
    torch.testing.assert_close(model_outputs[0], model_outputs[1], atol=1e-5, rtol=1e-5)
    assert torch.isinf(model_outputs[1][~allowed]).all()


# --- training ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gat", "gcn"])
def test_fits_two_communities(kind, backend):
    rng = np.random.default_rng(1)
    graphs, truths = zip(*[two_communities(rng) for _ in range(3)], strict=True)
    probs = correct_graphs(graphs, num_classes=2, seed=0, **gnn(kind=kind, backend=backend))
    for p, graph, truth in zip(probs, graphs, truths, strict=True):
        unlabelled = graph.labels == UNLABELLED
        assert (p.argmax(1)[unlabelled] == truth[unlabelled]).mean() >= 0.9


def test_per_image_results_do_not_depend_on_the_other_graphs():
    """Graph 0 alone, in one padded batch with smaller graphs, or in other chunks: same model."""
    rng = np.random.default_rng(2)
    a, b, c = (two_communities(rng, size=size)[0] for size in (14, 8, 11))
    kwargs = dict(num_classes=2, seed=4, **gnn(backend="torch", epochs=30))
    alone = correct_graphs([a], **kwargs)[0]
    batched = correct_graphs([a, b, c], **kwargs)
    np.testing.assert_allclose(batched[0], alone, atol=1e-5)
    for batch_size in (1, 2):
        other_chunks = correct_graphs([a, b, c], **{**kwargs, "batch_size": batch_size})
        for x, y in zip(batched, other_chunks, strict=True):
            np.testing.assert_allclose(x, y, atol=1e-5)


def test_deterministic_given_the_seed(backend):
    rng = np.random.default_rng(3)
    graphs = [two_communities(rng)[0] for _ in range(2)]
    kwargs = dict(num_classes=2, **gnn(backend=backend, epochs=20))
    first = correct_graphs(graphs, seed=1, **kwargs)
    again = correct_graphs(graphs, seed=1, **kwargs)
    other = correct_graphs(graphs, seed=2, **kwargs)
    for x, y, z in zip(first, again, other, strict=True):
        np.testing.assert_array_equal(x, y)
        assert not np.array_equal(x, z)


@pytest.mark.parametrize("mode", ["per_image", "shared"])
def test_disallowed_classes_get_exactly_zero(mode):
    rng = np.random.default_rng(4)
    graphs = [two_communities(rng, classes=(0, 3))[0], two_communities(rng, classes=(2, 4))[0]]
    probs = correct_graphs(graphs, num_classes=5, **gnn(backend="torch", mode=mode, epochs=40))
    for p, graph in zip(probs, graphs, strict=True):
        assert p.shape == (len(graph.labels), 5) and p.dtype == np.float32
        disallowed = np.setdiff1d(np.arange(5), graph.allowed)
        assert (p[:, disallowed] == 0).all()
        np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
        truth = np.repeat(graph.allowed, len(graph.labels) // 2)
        assert (p.argmax(1) == truth).mean() >= 0.9


def test_shared_mode_fits(backend):
    rng = np.random.default_rng(5)
    graphs, truths = zip(*[two_communities(rng) for _ in range(3)], strict=True)
    probs = correct_graphs(
        graphs, num_classes=2, **gnn(backend=backend, mode="shared", batch_size=2)
    )
    for p, graph, truth in zip(probs, graphs, truths, strict=True):
        unlabelled = graph.labels == UNLABELLED
        assert (p.argmax(1)[unlabelled] == truth[unlabelled]).mean() >= 0.9


def test_unlabelled_graph_returns_none_and_tiny_graphs_work(backend):
    rng = np.random.default_rng(6)
    labelled, _ = two_communities(rng, size=5)
    no_labels = GraphInput(labelled.features, labelled.edges, np.full(10, 255, np.uint8), [0, 1])
    one_node = GraphInput(rng.normal(size=(1, 8)).astype(np.float32), np.zeros((0, 2)), [1], [0, 1])
    one_class = GraphInput(labelled.features, labelled.edges, np.zeros(10, np.uint8), [0])
    graphs = [no_labels, one_node, labelled, one_class]
    probs = correct_graphs(graphs, num_classes=2, **gnn(backend=backend, epochs=30))
    assert probs[0] is None
    assert probs[1].shape == (1, 2) and probs[1].argmax() == 1
    assert probs[2].shape == (10, 2)
    np.testing.assert_array_equal(probs[3], np.tile([1.0, 0.0], (10, 1)).astype(np.float32))


def test_bad_inputs_are_rejected():
    rng = np.random.default_rng(7)
    graph, _ = two_communities(rng, size=5)
    bad_label = GraphInput(graph.features, graph.edges, graph.labels, [0])
    with pytest.raises(ValueError, match="not allowed"):
        correct_graphs([bad_label], num_classes=2, **gnn(backend="torch"))
    with pytest.raises(ValueError, match="allowed classes"):
        correct_graphs(
            [GraphInput(graph.features, graph.edges, graph.labels, [0, 2])], num_classes=2, **GNN
        )
    with pytest.raises(ValueError, match="unknown mode"):
        correct_graphs([graph], num_classes=2, **gnn(mode="global"))
