import numpy as np
import pytest

pytest.importorskip("pydensecrf")

from pixelnoise.config import schema_defaults  # noqa: E402
from pixelnoise.crf import dense_crf  # noqa: E402

CRF = schema_defaults()["crf"]  # the config's crf section: the parameters the workflow uses

H, W = 40, 60


def toy_scene(seed: int = 0):
    """Two coloured regions; probs = blurred one-hot + heavy noise (argmax ~70% right)."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((H, W), np.int64)
    truth[:, 28:] = 1
    truth[8:30, 6:20] = 1  # a second blob, so the boundary is not a single straight line
    colours = np.array([[210, 40, 40], [40, 60, 220]])
    image = np.clip(colours[truth] + rng.normal(0, 8, (H, W, 3)), 0, 255).astype(np.uint8)
    onehot = np.stack([truth == 0, truth == 1]).astype(np.float64)
    # 3x3 box blur: soft edges, as an upsampled CAM would have
    padded = np.pad(onehot, ((0, 0), (1, 1), (1, 1)), mode="edge")
    blurred = sum(padded[:, i : i + H, j : j + W] for i in range(3) for j in range(3)) / 9
    probs = 0.3 * blurred + rng.random((2, H, W))
    # a third, disallowed class (absent from the image-level label)
    probs = np.concatenate([probs, np.zeros((1, H, W))])
    return image, probs, truth


@pytest.mark.parametrize("seed", [0, 1])
def test_crf_improves_noisy_labelling(seed):
    image, probs, truth = toy_scene(seed)
    before = (probs.argmax(0) == truth).mean()
    refined = dense_crf(image, probs, **CRF)
    after = (refined.argmax(0) == truth).mean()
    assert 0.6 < before < 0.8  # the toy really is noisy
    assert after >= 0.9
    assert after > before + 0.1


def test_disallowed_classes_stay_zero_and_output_is_normalised():
    image, probs, _ = toy_scene()
    probs = np.concatenate([np.zeros((1, H, W)), probs])  # disallowed classes at 0 and 3
    refined = dense_crf(image, probs, **{**CRF, "iterations": 5})
    assert refined.shape == (4, H, W)
    assert refined.dtype == np.float32
    assert np.all(refined[0] == 0) and np.all(refined[3] == 0)
    assert np.all(refined >= 0)
    np.testing.assert_allclose(refined.sum(0), 1.0, atol=1e-5)


def test_unnormalised_input_and_non_contiguous_image():
    image, probs, truth = toy_scene()
    # a flipped view is not C-contiguous; scaled probs are not normalised
    flipped_image = image[:, ::-1]
    flipped_probs = 7.0 * probs[:, :, ::-1]
    refined = dense_crf(flipped_image, flipped_probs, **CRF)
    np.testing.assert_allclose(refined.sum(0), 1.0, atol=1e-5)
    assert (refined.argmax(0) == truth[:, ::-1]).mean() >= 0.9


def test_single_class_is_returned_unchanged():
    image, _, _ = toy_scene()
    probs = np.zeros((3, H, W), np.float32)
    probs[1] = 0.25
    refined = dense_crf(image, probs, **CRF)
    assert np.all(refined[1] == 1.0)
    assert np.all(refined[[0, 2]] == 0.0)
    only = dense_crf(image, np.full((1, H, W), 0.5), **CRF)
    assert only.shape == (1, H, W) and np.all(only == 1.0)


def test_bad_inputs_raise():
    image, probs, _ = toy_scene()
    with pytest.raises(ValueError, match="uint8"):
        dense_crf(image.astype(np.float32) / 255, probs, **CRF)
    with pytest.raises(ValueError, match="match"):
        dense_crf(image[:-1], probs, **CRF)
    with pytest.raises(ValueError, match="zero for every class"):
        dense_crf(image, np.zeros_like(probs), **CRF)


def test_read_only_image_is_accepted():
    from pixelnoise.crf import dense_crf

    image = np.zeros((6, 8, 3), np.uint8)
    image.setflags(write=False)  # as PIL-backed arrays can be
    probs = np.full((2, 6, 8), 0.5, np.float32)
    assert dense_crf(image, probs, **{**CRF, "iterations": 1}).shape == (2, 6, 8)
