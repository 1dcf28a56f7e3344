"""WSGCN (Pan et al.): partial labels, grid graphs, the row-normalised GCN and the loss terms,
each against a direct dense computation on small inputs."""

import os

os.environ.setdefault("DGLBACKEND", "pytorch")

import numpy as np
import pytest
import torch
from test_graphs import smooth_random_image

from pixelnoise.config import schema_defaults
from pixelnoise.correction import gnn_options
from pixelnoise.crf import dense_crf
from pixelnoise.gnn import (
    GraphInput,
    TrainingChunk,
    batch_graphs,
    build_gnn,
    correct_graphs,
    get_backend,
)
from pixelnoise.graphs import (
    VOID,
    build_graph,
    build_grid_graph,
    grid_probabilities_to_pixels,
    grid_segments,
    window_pairs,
)
from pixelnoise.losses import laplacian_energy, node_entropy, pairwise_affinity_matrix
from pixelnoise.methods import LABEL_MAPS, NODE_PROBABILITIES, REGISTRY
from pixelnoise.partial_labels import partial_labels, top_fraction_mask
from pixelnoise.wsgcn import Terms, WsgcnObjective, laplacian_pairs

SETTINGS = schema_defaults()["wsgcn"]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def terms(entropy=True, laplacian=True, **overrides) -> Terms:
    values = {
        key: SETTINGS[key]
        for key in ("entropy_weight", "laplacian_weight", "entropy_over", "laplacian_on")
    }
    return Terms(entropy=entropy, laplacian=laplacian, **{**values, **overrides})


def wsgcn_options(backend="torch", steps=30) -> dict:
    return {
        **gnn_options(schema_defaults()["correct"]),
        **{key: SETTINGS[key] for key in ("hidden", "dropout", "lr", "weight_decay")},
        "epochs": steps,
        "mode": "per_image",
        "backend": backend,
    }


def chunk_of(graphs: list[GraphInput], num_classes: int) -> TrainingChunk:
    from pixelnoise.gnn.train import _make_chunk

    return _make_chunk(graphs, list(range(len(graphs))), num_classes, "cpu", None, pad=True)


# --- loss terms -----------------------------------------------------------------------------


def test_entropy_equals_the_direct_sum():
    probs = torch.softmax(torch.randn(7, 4, generator=torch.Generator().manual_seed(0)), 1)
    direct = -(probs * probs.log()).sum(1)
    torch.testing.assert_close(node_entropy(probs.log()), direct)
    # A class a node may not take (-inf) contributes nothing, not NaN.
    restricted = torch.tensor([[0.25, 0.75, 0.0]]).log()
    expected = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
    assert node_entropy(restricted).item() == pytest.approx(expected)


def test_laplacian_energy_equals_trace_of_q_l_q():
    rng = np.random.default_rng(1)
    n, c = 6, 3
    pairs = np.array([[0, 1], [0, 2], [1, 3], [2, 3], [3, 4], [4, 5], [1, 5]])
    phi = rng.random(len(pairs)).astype(np.float32)
    q = torch.softmax(torch.from_numpy(rng.normal(size=(n, c)).astype(np.float32)), 1)
    dense = np.zeros((n, n), np.float32)
    dense[pairs[:, 0], pairs[:, 1]] = phi
    dense[pairs[:, 1], pairs[:, 0]] = phi
    laplacian = torch.from_numpy(np.diag(dense.sum(1)) - dense)
    trace = torch.trace(q.T @ laplacian @ q)
    src, dst = torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])
    matrix, degree = pairwise_affinity_matrix(src, dst, torch.from_numpy(phi), n)
    energy = laplacian_energy(q, matrix, degree, torch.zeros(n, dtype=torch.long), 1)
    torch.testing.assert_close(energy[0], trace)
    # ... which is the pairwise sum, each undirected pair once.
    pairwise = sum(
        w * float(((q[i] - q[j]) ** 2).sum()) for (i, j), w in zip(pairs, phi, strict=True)
    )
    assert energy.item() == pytest.approx(pairwise, rel=1e-5)
    # Two graphs in one batch: each gets its own energy.
    matrix, degree = pairwise_affinity_matrix(
        torch.cat([src, src + n]),
        torch.cat([dst, dst + n]),
        torch.from_numpy(np.r_[phi, phi]),
        2 * n,
    )
    graph_of_node = torch.repeat_interleave(torch.arange(2), n)
    both = laplacian_energy(torch.cat([q, q]), matrix, degree, graph_of_node, 2)
    torch.testing.assert_close(both, torch.stack([trace, trace]))


def test_phi_is_the_colour_and_position_kernel():
    segments = np.array([[0, 0, 1, 1], [2, 2, 3, 3]])
    image = np.zeros((2, 4, 3), np.uint8)
    image[:, 2:] = [255, 0, 0]
    rgb = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 0], [1, 0, 0]], float)
    # Positions in the paper's grid units, stride-4 cells (eq. 7), whatever the node spacing.
    for unit, pixels in ((SETTINGS["xy_unit"], 4.0), (None, np.sqrt(8 / 4))):
        pairs, phi = laplacian_pairs(
            segments, np.zeros((0, 2), np.int64), image, 3**0.5, 10.0, unit
        )
        assert pairs.tolist() == [[0, 1], [0, 2], [1, 3], [2, 3]]
        centroids = np.array([[0.5, 0], [2.5, 0], [0.5, 1], [2.5, 1]]) / pixels
        for (i, j), value in zip(pairs, phi, strict=True):
            expected = np.exp(
                -np.square(rgb[i] - rgb[j]).sum() / (2 * 3)
                - np.square(centroids[i] - centroids[j]).sum() / (2 * 100)
            )
            assert value == pytest.approx(expected, rel=1e-6)


def test_phi_counts_distance_in_stride_4_cells():
    """Two superpixels whose centroids are 40 px apart (10 grid cells = sigma_2) on one colour:
    Phi = exp(-1/2), however many superpixels the image has."""
    segments = np.repeat(np.array([[0] * 40 + [1] * 40]), 4, axis=0)
    image = np.zeros((4, 80, 3), np.uint8)
    _, phi = laplacian_pairs(segments, np.zeros((0, 2), np.int64), image, 3**0.5, 10.0, 4)
    assert phi.tolist() == pytest.approx([np.exp(-0.5)], rel=1e-6)


def test_the_final_crf_gets_the_softmax_of_the_probabilities():
    """The public code's CRF.py applies a softmax to the GCN's probabilities over the image's
    classes before the CRF; the others stay 0."""
    from pixelnoise.corrected_labels import softmax_over_allowed

    assert SETTINGS["crf_unaries"] == "softmax"
    probs = np.random.default_rng(0).dirichlet(np.ones(3), (4, 5)).transpose(2, 0, 1)
    probs = np.concatenate([probs, np.zeros((1, 4, 5))]).astype(np.float32)
    flat = softmax_over_allowed(probs, [0, 1, 2])
    expected = np.exp(probs[:3]) / np.exp(probs[:3]).sum(0)
    np.testing.assert_allclose(flat[:3], expected, rtol=1e-6)
    assert (flat[3] == 0).all() and flat[:3].max() < probs[:3].max()


def objective_for(graph: GraphInput, pairs, phi, background=None, **term_options):
    return WsgcnObjective(
        terms(**term_options), background, 4, [np.asarray(pairs)], [np.asarray(phi, np.float32)]
    )


def test_empty_seed_sets_give_finite_losses_and_gradients():
    graph = GraphInput(np.eye(3, dtype=np.float32), np.array([[0, 1], [1, 2]]),
                       np.full(3, VOID, np.uint8), [0, 2])  # fmt: skip
    chunk = chunk_of([graph], 4)
    logits = torch.randn(chunk.batch.num_nodes, 4, requires_grad=True)
    objective = objective_for(graph, [[0, 1], [1, 2]], [1.0, 0.5], background=0)
    loss = objective(logits, chunk)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(logits.grad).all()
    # Every node labelled, foreground only: no entropy term, no background term.
    labelled = GraphInput(graph.features, graph.edges, np.array([2, 2, 2], np.uint8), [0, 2])
    chunk = chunk_of([labelled], 4)
    only_ce = objective_for(labelled, [[0, 1]], [1.0], background=0, entropy=True, laplacian=False)
    logits = torch.zeros(chunk.batch.num_nodes, 4, requires_grad=True)
    loss = only_ce(logits, chunk)
    assert loss.item() == pytest.approx(np.log(2))  # uniform over the two allowed classes
    loss.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_foreground_and_background_terms_are_averaged_separately():
    # 1 background seed, 3 foreground seeds: each group's mean counts once (class imbalance).
    graph = GraphInput(np.eye(4, dtype=np.float32), np.zeros((0, 2), np.int64),
                       np.array([0, 1, 1, 1], np.uint8), [0, 1])  # fmt: skip
    chunk = chunk_of([graph], 2)
    logits = torch.tensor([[0.0, 2.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    loss = objective_for(graph, np.zeros((0, 2), np.int64), [], background=0,
                         entropy=False, laplacian=False)(logits, chunk)  # fmt: skip
    log_probs = torch.log_softmax(logits, 1)
    expected = -log_probs[0, 0] - log_probs[1:, 1].mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_the_laplacian_pulls_an_unlabelled_node_toward_its_similar_neighbour():
    """Node 2 is unlabelled; its colour matches node 0 (class 1), not node 1 (class 2):
    Phi_20 >> Phi_21. Descending the Laplacian term raises node 2's class-1 probability."""
    graph = GraphInput(np.eye(3, dtype=np.float32), np.array([[0, 2], [1, 2]]),
                       np.array([1, 2, VOID], np.uint8), [1, 2])  # fmt: skip
    chunk = chunk_of([graph], 4)
    logits = torch.tensor([[0, 4.0, 0, 0], [0, 0, 4.0, 0], [0, 0, 0, 0]], requires_grad=True)
    objective = objective_for(graph, [[0, 2], [1, 2]], [0.9, 0.1], entropy=False)
    objective.terms = terms(entropy=False, laplacian_weight=1.0)
    objective(logits, chunk).sum().backward()
    step = logits.detach() - 0.5 * logits.grad
    before, after = torch.softmax(logits.detach()[2, 1:3], 0), torch.softmax(step[2, 1:3], 0)
    assert after[0] > before[0] == 0.5
    # And trained end to end, node 2 takes its similar neighbour's class.
    [probs] = correct_graphs([graph], num_classes=4, kind="gcn_row", objective=objective,
                             **wsgcn_options(steps=100))  # fmt: skip
    assert probs[2].argmax() == 1


# --- graphs and the GCN ----------------------------------------------------------------------


def test_grid_graph_has_one_node_per_block_and_window_edges():
    segments = grid_segments(10, 13, 4)
    assert segments.max() + 1 == 3 * 4 and (segments[:4, :4] == 0).all()
    pairs = window_pairs(5, 6, 2)
    degree = np.bincount(pairs.ravel(), minlength=30)
    assert degree[2 * 6 + 2] == 24  # an interior cell: the whole 5 x 5 window
    assert degree[0] == 8 and (pairs[:, 0] < pairs[:, 1]).all()
    image = smooth_random_image(21, 30)
    graph = build_grid_graph(image, np.random.default_rng(0).random((5, 6, 8)), stride=4, radius=2)
    assert graph.num_nodes == 6 * 8 and graph.features.shape == (48, 5)
    assert len(graph.edges) == len(window_pairs(6, 8, 2)) and (graph.labels == VOID).all()


def test_row_normalised_gcn_equals_the_dense_formula():
    pairs = np.array([[0, 1], [1, 2], [2, 0], [1, 0]])
    weights = np.array([0.5, 0.2, 0.9, 0.7], np.float32)  # (1, 0) repeats (0, 1): max is kept
    batch = batch_graphs([3], [pairs], weights_list=[weights])
    dense = np.eye(3, dtype=np.float32)
    for (i, j), w in zip(pairs, weights, strict=True):
        dense[i, j] = dense[j, i] = max(dense[i, j] if i != j else 0, w)
    dense /= dense.sum(1, keepdims=True)
    model = build_gnn("gcn_row", "torch", 2, 3, hidden=4, dropout=0.0)
    x = torch.randn(3, 2)
    layer = model.layer1
    expected = torch.from_numpy(dense) @ x @ layer.weight[0] + layer.bias[0]
    torch.testing.assert_close(layer(batch, x, model.backend), expected)


def graphs_of_both_kinds() -> list[GraphInput]:
    rng = np.random.default_rng(3)
    image = smooth_random_image(40, 48, seed=3)
    feature_map = rng.random((6, 10, 12)).astype(np.float32)
    superpixels = build_graph(image, feature_map, np.full((40, 48), VOID, np.uint8),
                              n_segments=30, compactness=10.0)  # fmt: skip
    grid = build_grid_graph(image, feature_map, stride=4, radius=2)
    out = []
    for graph in (superpixels, grid):
        labels = np.full(graph.num_nodes, VOID, np.uint8)
        labels[rng.choice(graph.num_nodes, graph.num_nodes // 4, replace=False)] = rng.choice(
            [0, 2, 3], graph.num_nodes // 4
        )
        pairs = laplacian_pairs(graph.segments, graph.edges, image, 3**0.5, 10.0, 4)
        out.append((GraphInput(graph.features, graph.edges, labels, [0, 2, 3], graph.weights),
                    pairs))  # fmt: skip
    return out


@pytest.mark.parametrize("laplacian_on", ["probabilities", "log_probabilities"])
def test_both_graph_kinds_agree_across_backends(laplacian_on):
    try:
        get_backend("dgl")
    except ImportError as error:
        pytest.skip(f"dgl backend unavailable: {error}")
    for graph, (pairs, phi) in graphs_of_both_kinds():
        results = {}
        for backend in ("torch", "dgl"):
            objective = WsgcnObjective(terms(laplacian_on=laplacian_on, entropy_over="mean"),
                                       0, 4, [pairs], [phi])  # fmt: skip
            [results[backend]] = correct_graphs([graph], num_classes=4, kind="gcn_row",
                                                objective=objective, seed=5,
                                                **wsgcn_options(backend, steps=40))  # fmt: skip
        np.testing.assert_allclose(results["torch"], results["dgl"], atol=1e-5)
        assert (results["torch"][:, 1] == 0).all()  # class 1 is not the image's


# --- partial labels --------------------------------------------------------------------------


def test_top_fraction_keeps_the_strongest_values_above_the_minimum():
    values = np.linspace(0, 1, 11)  # 0.0, 0.1, ..., 1.0
    kept = top_fraction_mask(values, 0.3, 0.1)
    assert np.flatnonzero(kept).tolist() == [8, 9, 10]
    assert not top_fraction_mask(np.zeros(5), 0.3, 0.1).any()


#: The seed rule alone: zero CRF iterations leave the CRF's probabilities the normalised stack.
BARE = {**SETTINGS["seeds"], "stride": 1}
NO_CRF = {**SETTINGS["seed_crf"], "iterations": 0}


def test_partial_labels_with_a_background_class():
    image = np.zeros((8, 12, 3), np.uint8)
    image[:, 6:] = 200
    cams = np.zeros((1, 8, 12), np.float32)
    cams[0, :, 6:] = np.linspace(0.5, 1.0, 6)  # the object, right half; the left is background
    crf = {**SETTINGS["seed_crf"], "iterations": 5}
    seeds = partial_labels(image, cams, [4], background=0, seeds=BARE, crf=crf)
    assert (seeds[:, :6] == 0).all()  # (1 - 0)^32 = 1 > 0.8: confident background
    assert (seeds[:, 6:] == 4).all()  # fg_top_fraction 1 (the code): the whole object
    assert set(np.unique(seeds)) <= {0, 4, VOID}


def test_a_seed_needs_a_crf_confidence_of_0_8():
    """The code's threshold4conf: a pixel in its class's sure region whose top CRF probability is
    below 0.8 is ignored (two classes of nearly equal CAM), one above is a seed."""
    image = np.zeros((4, 8, 3), np.uint8)
    cams = np.zeros((2, 4, 8), np.float32)
    cams[0, :, :4] = 0.9  # (1 - 0.9)^4 = 1e-4: probability ~1 for class 0
    cams[0, :, 4:], cams[1, :, 4:] = 0.5, 0.45  # class 0 wins with probability 0.49
    for background in (0, None):
        seeds = partial_labels(image, cams, [3, 5], background, seeds=BARE, crf=NO_CRF)
        assert (seeds[:, :4] == 3).all() and (seeds[:, 4:] == VOID).all()
        argmax_only = {**BARE, "confidence": 0.0}  # the old rule: the CRF's argmax
        seeds = partial_labels(image, cams, [3, 5], background, seeds=argmax_only, crf=NO_CRF)
        assert (seeds[:, 4:] == 3).all()


def test_pixels_the_two_crfs_dispute_are_ignored():
    """CAM 0.15: background against (1 - 0.15)^4 = 0.52, the object against (0.85)^32 = 0.006.
    The code ignores the fg_power CRF's background and takes only the bg_power CRF's, so the
    pixel is no seed, even with the confidence rule off; CAM 0 is background, 0.9 the object."""
    image = np.zeros((3, 9, 3), np.uint8)
    cams = np.zeros((1, 3, 9), np.float32)
    cams[0, :, 3:6], cams[0, :, 6:] = 0.15, 0.9
    seeds = partial_labels(image, cams, [2], 0, seeds={**BARE, "confidence": 0.0}, crf=NO_CRF)
    assert seeds[0].tolist() == [0] * 3 + [VOID] * 3 + [2] * 3


def test_without_a_background_class_the_crf_must_agree_with_the_cam_argmax():
    """MSRC-21's adapted rule: a pixel whose CRF class is not its CAM argmax is ignored."""
    image = np.zeros((6, 12, 3), np.uint8)
    image[:, 6:] = 255
    cams = np.zeros((2, 6, 12), np.float32)
    cams[0, :, :6], cams[1, :, 6:] = 1.0, 1.0
    cams[0, :, 6], cams[1, :, 6] = 0.6, 0.5  # class 0 by CAM, on class 1's colour
    crf = {**SETTINGS["seed_crf"], "iterations": 10, "bilateral_compat": 30}
    refined = dense_crf(image, cams, **crf)
    assert refined[:, :, 6].argmax(0).tolist() == [1] * 6  # the CRF flips column 6
    seeds = partial_labels(image, cams, [1, 2], None, seeds={**BARE, "confidence": 0.0}, crf=crf)
    assert (seeds[:, 6] == VOID).all()
    assert (seeds[:, :6] == 1).all() and (seeds[:, 7:] == 2).all()


def test_seeds_are_computed_at_the_cams_stride():
    """stride 4: the image and CAMs are area-downsampled, so the seeds are constant on 4 x 4
    blocks (nearest upsampling); at stride 1 they are per pixel."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (16, 20, 3), dtype=np.uint8)
    cams = rng.random((2, 16, 20)).astype(np.float32)
    crf = SETTINGS["seed_crf"]
    coarse = partial_labels(image, cams, [1, 2], 0, seeds={**BARE, "stride": 4}, crf=crf)
    blocks = coarse.reshape(4, 4, 5, 4).transpose(0, 2, 1, 3).reshape(20, 16)
    assert coarse.shape == (16, 20) and (blocks == blocks[:, :1]).all()
    fine = partial_labels(image, cams, [1, 2], 0, seeds={**BARE, "confidence": 0.0}, crf=crf)
    fine_blocks = fine.reshape(4, 4, 5, 4).transpose(0, 2, 1, 3).reshape(20, 16)
    assert not (fine_blocks == fine_blocks[:, :1]).all()


# --- registry --------------------------------------------------------------------------------


def test_the_family_is_in_the_registry_and_honest():
    names = REGISTRY.names(LABEL_MAPS)
    for base in ("wsgcn_ce", "wsgcn_ent", "wsgcn_lp", "wsgcn", "wsgcn_grid", "detect_wsgcn"):
        assert base in REGISTRY.names(NODE_PROBABILITIES)
        assert {base, base + "_crf"} <= set(names)
        assert not REGISTRY.reads_weak_masks(base + "_crf", LABEL_MAPS)
    grid = REGISTRY.get("wsgcn_grid_crf", LABEL_MAPS)
    assert "grid_graphs" in grid.consumes and grid.crf and grid.options["settings"] == "wsgcn"


@pytest.mark.parametrize("shape", [(10, 13), (2, 13), (2, 3)])
def test_grid_probabilities_are_bilinear_between_block_centres(shape):
    segments = grid_segments(*shape, 3)
    rows, columns = -(-shape[0] // 3), -(-shape[1] // 3)
    probs = np.random.default_rng(0).dirichlet(np.ones(3), rows * columns).astype(np.float32)
    pixels = grid_probabilities_to_pixels(segments, probs)
    assert pixels.shape == (3, *shape)
    np.testing.assert_allclose(pixels.sum(0), 1.0, atol=1e-5)  # convex combinations
    if shape == (10, 13):
        # Stride 3: block (1, 1) is centred on pixel (4, 4), which takes its value exactly;
        # halfway between two centres, the mean of the two blocks.
        np.testing.assert_allclose(pixels[:, 4, 4], probs[1 * columns + 1], atol=1e-6)
        halfway = (probs[1 * columns + 1] + probs[1 * columns + 2]) / 2
        np.testing.assert_allclose(pixels[:, 4, 5:7].mean(1), halfway, atol=1e-6)


def test_the_report_lays_out_table_2_and_says_when_l_bg_vanishes():
    import pandas as pd

    from pixelnoise.stages.report import wsgcn_section

    pseudo = pd.DataFrame(
        {
            "method": ["cam", "wsgcn_ce", "wsgcn_ce_crf", "wsgcn", "wsgcn_crf"],
            "miou": [40.0, 45.0, 46.0, 48.0, 50.0],
        }  # fmt: skip
    )
    lines = wsgcn_section(pseudo, has_background=False)
    text = "\n".join(lines)
    assert "no background class" in text and "l_bg" in text
    table = [line for line in text.splitlines() if line.startswith("| CE")]
    assert len(table) == 2 and "45.00" in table[0] and "46.00" in table[0]
    assert "50.00" in table[1]
    assert "no background" not in "\n".join(wsgcn_section(pseudo, has_background=True))
    assert wsgcn_section(pseudo[pseudo.method == "cam"], has_background=True) == []
