"""Superpixel graphs (eqs. 3-4) on hand-made superpixel maps with answers worked out by hand."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

from pixelnoise.config import schema_defaults
from pixelnoise.errors import ConfigError, PixelnoiseError
from pixelnoise.graphs import (
    VOID,
    SuperpixelGraph,
    adjacent_pairs,
    build_graph,
    majority_vote,
    node_probabilities_to_pixels,
    prune_edges,
    similarity_weights,
    slic_segments,
    superpixel_features,
)

V = VOID
COMPACTNESS = schema_defaults()["graph"]["compactness"]


def blocks(rows: int, cols: int, size: int) -> np.ndarray:
    """Grid of size x size blocks numbered row-major: blocks(2, 3, 2) is 4 x 6 with ids 0..5."""
    ids = np.arange(rows * cols).reshape(rows, cols)
    return np.kron(ids, np.ones((size, size), dtype=int))


def smooth_random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Spatially correlated noise: textured like a photo (i.i.d. noise defeats SLIC, see docs)."""
    noise = np.random.default_rng(seed).random((height, width, 3))
    smooth = gaussian_filter(noise, sigma=(3, 3, 0))
    return (np.clip((smooth - 0.5) * 4 + 0.5, 0, 1) * 255).astype(np.uint8)


# adjacent_pairs ----------------------------------------------------------------------------


def test_adjacent_pairs_of_block_grid():
    # 0 1 2
    # 3 4 5
    expected = [[0, 1], [0, 3], [1, 2], [1, 4], [2, 5], [3, 4], [4, 5]]
    pairs = adjacent_pairs(blocks(2, 3, 2))
    assert pairs.dtype == np.int64
    np.testing.assert_array_equal(pairs, expected)


def test_diagonal_contact_is_not_adjacency():
    pairs = adjacent_pairs(np.array([[0, 1], [2, 3]]))
    np.testing.assert_array_equal(pairs, [[0, 1], [0, 2], [1, 3], [2, 3]])  # no (0,3), (1,2)


def test_adjacent_pairs_orders_each_pair_and_handles_one_segment():
    np.testing.assert_array_equal(adjacent_pairs(np.array([[5, 2], [5, 2]])), [[2, 5]])
    assert adjacent_pairs(np.zeros((3, 3), int)).shape == (0, 2)
    assert adjacent_pairs(np.zeros((1, 1), int)).shape == (0, 2)


# similarity_weights ------------------------------------------------------------------------


def test_similarity_weights_by_hand():
    features = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    # Squared distances 1, 25, 20; h = D = 2, so the denominator 2h is 4.
    expected = [math.exp(-1 / 4), math.exp(-25 / 4), math.exp(-20 / 4)]
    weights = similarity_weights(features, pairs)
    assert weights.dtype == np.float32
    np.testing.assert_allclose(weights, expected, rtol=1e-6)


def test_similarity_weights_without_edges():
    weights = similarity_weights(np.ones((1, 4)), np.zeros((0, 2), np.int64))
    assert weights.shape == (0,) and weights.dtype == np.float32


# prune_edges -------------------------------------------------------------------------------

# Node 4 hangs off node 3 by a weak edge; (0, 2) is weak and nobody's strongest edge.
PAIRS = np.array([[0, 1], [0, 2], [1, 2], [2, 3], [3, 4]])
WEIGHTS = np.array([0.9, 0.1, 0.8, 0.7, 0.05])


def test_prune_edges_by_hand():
    # mean = 2.55 / 5 = 0.51; E[w^2] = 1.9525 / 5 = 0.3905; std = sqrt(0.3905 - 0.51^2).
    gamma = 0.51 - math.sqrt(0.3905 - 0.51**2)
    assert 0.1 < gamma < 0.7  # ~0.149: only 0.1 and 0.05 fall below it
    keep = prune_edges(PAIRS, WEIGHTS, num_nodes=5)
    assert keep.dtype == bool
    # (0,2) drops: below gamma and weaker than node 0's 0.9 and node 2's 0.8.
    # (3,4) stays although below gamma: it is node 4's strongest (only) edge.
    np.testing.assert_array_equal(keep, [True, False, True, True, True])


def test_prune_edges_keeps_ties_and_tolerates_isolated_and_empty():
    np.testing.assert_array_equal(prune_edges(PAIRS, np.full(5, 0.3), 5), [True] * 5)  # std 0
    assert prune_edges(PAIRS, WEIGHTS, num_nodes=7).tolist() == [True, False, True, True, True]
    empty = prune_edges(np.zeros((0, 2), np.int64), np.zeros(0, np.float32), 1)
    assert empty.shape == (0,) and empty.dtype == bool


def test_prune_edges_never_isolates_a_node():
    rng = np.random.default_rng(1)
    for _ in range(20):
        pairs = adjacent_pairs(rng.integers(0, 15, (6, 6)))
        weights = rng.random(len(pairs)) ** 4  # skewed: many edges far below the mean
        keep = prune_edges(pairs, weights, 15)
        assert set(np.unique(pairs[keep])) == set(np.unique(pairs))


def test_prune_edges_rejects_mismatched_input():
    with pytest.raises(PixelnoiseError):
        prune_edges(PAIRS, WEIGHTS[:3], 5)
    with pytest.raises(PixelnoiseError):
        prune_edges(PAIRS, WEIGHTS, 4)


# majority_vote -----------------------------------------------------------------------------


def test_majority_vote_by_hand():
    segments = np.array(
        [
            [0, 0, 1, 1],
            [0, 0, 1, 1],
            [2, 2, 3, 3],
        ]
    )
    clean = np.array(
        [
            [2, 2, V, V],
            [1, V, V, V],
            [0, 0, 7, 5],
        ],
        dtype=np.uint8,
    )
    # 0: two 2s beat one 1; 1: no clean pixel; 2: zeros; 3: 7 vs 5 tie -> smaller class.
    labels = majority_vote(segments, clean, 4)
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, [2, V, 0, 5])


def test_majority_vote_all_void_and_large_class():
    segments = blocks(1, 2, 2)
    np.testing.assert_array_equal(majority_vote(segments, np.full((2, 4), V, np.uint8), 2), [V, V])
    clean = np.array([[254, 254, V, V], [V, V, V, 3]], np.uint8)
    np.testing.assert_array_equal(majority_vote(segments, clean, 2), [254, 3])
    with pytest.raises(PixelnoiseError):
        majority_vote(segments, clean, 1)  # segment id 1 is not a node


# superpixel_features -----------------------------------------------------------------------


def dense_reference(feature_map: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """The literal recipe: torch bilinear upsampling, then a scatter-mean per superpixel."""
    fmap = torch.as_tensor(feature_map, dtype=torch.float64)[None]
    dense = F.interpolate(fmap, size=segments.shape, mode="bilinear", align_corners=False)[0]
    flat = torch.as_tensor(segments.ravel(), dtype=torch.int64)
    n = int(flat.max()) + 1
    sums = torch.zeros(n, fmap.shape[1], dtype=torch.float64)
    sums.index_add_(0, flat, dense.reshape(fmap.shape[1], -1).T)
    return (sums / torch.bincount(flat, minlength=n)[:, None]).numpy()


def test_constant_regions_give_their_constants():
    segments = blocks(2, 3, 2)
    constants = np.arange(18, dtype=np.float32).reshape(6, 3) * 1.5
    feature_map = constants[segments].transpose(2, 0, 1)  # 3 x 4 x 6, same size as the image
    np.testing.assert_array_equal(superpixel_features(feature_map, segments), constants)
    # A constant low-resolution map stays constant under any upsampling.
    uniform = np.broadcast_to(np.array([2.0, -1.0])[:, None, None], (2, 3, 5))
    np.testing.assert_allclose(superpixel_features(uniform, segments), [[2.0, -1.0]] * 6)


def test_upsampling_1x2_to_4x8_by_hand():
    # align_corners=False: source x = (x + 0.5) / 4 - 0.5, clamped, so the right-cell weights of
    # the 8 columns are 0, 0, 1/8, 3/8, 5/8, 7/8, 1, 1. Halves average 1/8 and 7/8 of [0, 8].
    feature_map = np.array([[[0.0, 8.0]]])
    segments = np.repeat(np.array([[0] * 4 + [1] * 4]), 4, axis=0)
    features = superpixel_features(feature_map, segments)
    assert features.dtype == np.float32
    np.testing.assert_allclose(features, [[1.0], [7.0]], rtol=1e-6)


def test_matches_dense_torch_recipe_for_other_aspect_ratios():
    rng = np.random.default_rng(0)
    segments = rng.integers(0, 12, (13, 29))
    segments[0, 0], segments[-1, -1] = 0, 11
    for shape in [(4, 5, 3), (4, 13, 29), (4, 1, 1), (4, 20, 7)]:
        feature_map = rng.normal(size=shape).astype(np.float32)
        expected = dense_reference(feature_map, segments)
        np.testing.assert_allclose(
            superpixel_features(feature_map, segments), expected, rtol=1e-5, atol=1e-6
        )
        from_tensor = superpixel_features(torch.from_numpy(feature_map), segments)
        np.testing.assert_allclose(from_tensor, expected, rtol=1e-5, atol=1e-6)


def test_ids_missing_from_segments_get_zero_features():
    features = superpixel_features(np.full((2, 2, 2), 3.0), np.array([[0, 0], [2, 2]]))
    np.testing.assert_array_equal(features, [[3.0, 3.0], [0.0, 0.0], [3.0, 3.0]])


def test_superpixel_features_rejects_bad_shapes():
    with pytest.raises(PixelnoiseError):
        superpixel_features(np.zeros((4, 4)), np.zeros((4, 4), int))


# slic_segments -----------------------------------------------------------------------------


def assert_consecutive(segments: np.ndarray) -> int:
    assert segments.dtype == np.int32
    n = int(segments.max()) + 1
    np.testing.assert_array_equal(np.unique(segments), np.arange(n))
    return n


@pytest.mark.parametrize("n_segments", [100, 500])
def test_slic_segments_roughly_n(n_segments):
    image = smooth_random_image(100, 150)
    segments = slic_segments(image, n_segments, COMPACTNESS)
    assert segments.shape == (100, 150)
    n = assert_consecutive(segments)
    assert n_segments / 3 <= n <= 2 * n_segments
    again = slic_segments(image, n_segments, COMPACTNESS)
    np.testing.assert_array_equal(again, segments)  # deterministic


def test_slic_segments_many_and_tiny():
    n = assert_consecutive(slic_segments(smooth_random_image(100, 150), 5000, COMPACTNESS))
    assert n > 1000
    tiny = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert 1 <= assert_consecutive(slic_segments(tiny, 1000, COMPACTNESS)) <= 64


def test_slic_segments_rejects_bad_input():
    with pytest.raises(PixelnoiseError):
        slic_segments(np.zeros((8, 8), np.uint8), 4, COMPACTNESS)
    with pytest.raises(ConfigError):
        slic_segments(np.zeros((8, 8, 3), np.uint8), n_segments=0, compactness=COMPACTNESS)


# build_graph -------------------------------------------------------------------------------


def two_halves():
    """24 x 32 image: red left half, blue right; features a (left) and b (right) on a 6 x 8 map."""
    image = np.zeros((24, 32, 3), np.uint8)
    image[:, :16, 0] = 200
    image[:, 16:, 2] = 200
    feature_map = np.zeros((4, 6, 8), np.float32)
    feature_map[:, :, :4] = np.array([1.0, 0.0, 2.0, 0.5])[:, None, None]
    feature_map[:, :, 4:] = np.array([-1.0, 3.0, 0.0, 0.5])[:, None, None]
    return image, feature_map


def assert_same_graph(a: SuperpixelGraph, b: SuperpixelGraph) -> None:
    for name in ("segments", "features", "edges", "weights", "labels"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_build_graph_two_halves(tmp_path):
    image, feature_map = two_halves()
    clean = np.full((24, 32), V, np.uint8)
    clean[:, :16] = 1
    graph = build_graph(image, feature_map, clean, n_segments=16, compactness=COMPACTNESS)
    segments = graph.segments
    n = assert_consecutive(segments)
    assert graph.num_nodes == n and graph.features.shape == (n, 4)
    left = np.isin(np.arange(n), segments[:, :16])
    assert not np.any(left & np.isin(np.arange(n), segments[:, 16:]))  # SLIC respects the edge
    np.testing.assert_array_equal(graph.labels, np.where(left, 1, V))

    pairs = adjacent_pairs(segments)
    weights = similarity_weights(graph.features, pairs)
    cross = left[pairs[:, 0]] != left[pairs[:, 1]]
    assert cross.any() and (~cross).any()
    assert weights[cross].max() < weights[~cross].min()
    # Pruning only removes edges, sorted and with their eq. 3 weights; it removes cross edges.
    keys = {tuple(p) for p in pairs}
    assert all(tuple(e) in keys for e in graph.edges)
    np.testing.assert_array_equal(graph.edges, np.unique(graph.edges, axis=0))
    dropped = {tuple(p) for p in pairs} - {tuple(e) for e in graph.edges}
    assert dropped and all(left[i] != left[j] for i, j in dropped)
    np.testing.assert_allclose(graph.weights, weights[prune_edges(pairs, weights, n)])

    path = tmp_path / "graphs" / "img.npz"
    graph.save(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["img.npz"]  # no temp leftovers
    assert_same_graph(SuperpixelGraph.load(path), graph)


def test_build_graph_all_void_and_other_aspect_ratio():
    image, _ = two_halves()
    feature_map = np.random.default_rng(0).normal(size=(3, 5, 5)).astype(np.float32)
    graph = build_graph(
        image, feature_map, np.full((24, 32), V, np.uint8), n_segments=16, compactness=COMPACTNESS
    )
    assert graph.features.shape == (graph.num_nodes, 3)
    assert np.all(graph.labels == V)


def test_one_node_graph(tmp_path):
    image = np.full((4, 4, 3), 120, np.uint8)
    graph = build_graph(
        image,
        np.ones((2, 1, 1)),
        np.full((4, 4), V, np.uint8),
        n_segments=1,
        compactness=COMPACTNESS,
    )
    assert graph.num_nodes == 1
    assert graph.edges.shape == (0, 2) and graph.weights.shape == (0,)
    np.testing.assert_array_equal(graph.features, [[1.0, 1.0]])
    graph.save(tmp_path / "one.npz")
    assert_same_graph(SuperpixelGraph.load(tmp_path / "one.npz"), graph)


def test_graph_consistency_checks(tmp_path):
    with pytest.raises(PixelnoiseError):
        SuperpixelGraph(np.zeros((2, 2)), np.zeros((2, 3)), [], [], [V, V])  # 1 id, 2 nodes
    np.savez(tmp_path / "other.npz", segments=np.zeros((2, 2)))
    with pytest.raises(PixelnoiseError, match="other.npz"):
        SuperpixelGraph.load(tmp_path / "other.npz")
    with pytest.raises(PixelnoiseError):
        build_graph(
            np.zeros((4, 4, 3), np.uint8),
            np.ones((1, 2, 2)),
            np.zeros((4, 5), np.uint8),
            n_segments=4,
            compactness=COMPACTNESS,
        )


# node_probabilities_to_pixels --------------------------------------------------------------


def test_node_probabilities_to_pixels():
    segments = np.array([[0, 0, 1], [2, 1, 1]])
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]], np.float32)
    pixels = node_probabilities_to_pixels(segments, probs)
    assert pixels.shape == (3, 2, 3) and pixels.dtype == np.float32
    for y, x in np.ndindex(segments.shape):
        np.testing.assert_array_equal(pixels[:, y, x], probs[segments[y, x]])
    graph = SuperpixelGraph(segments, np.zeros((3, 2)), np.zeros((0, 2)), [], [V, V, V])
    np.testing.assert_array_equal(
        node_probabilities_to_pixels(graph, torch.from_numpy(probs)), pixels
    )
    with pytest.raises(PixelnoiseError):
        node_probabilities_to_pixels(segments, probs[:2])
