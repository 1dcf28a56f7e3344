"""Per-image maps come out bit for bit the same with 1 and 2 threads, so a run's CAMs and loss
maps do not depend on ``shards`` (which sets the threads per job)."""

import numpy as np
import pytest
import torch

from pixelnoise.cam import multiscale_cam
from pixelnoise.inference import log_probs_and_features
from pixelnoise.models.classifier import CamClassifier
from pixelnoise.models.deeplab import SegmentationNet

META = {"mean": [0.5] * 3, "std": [0.25] * 3}


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        for h, w in ((79, 78), (64, 131), (97, 120), (150, 113))
    ]


def with_threads(threads: int, function, *args, **kwargs):
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return function(*args, **kwargs)
    finally:
        torch.set_num_threads(previous)


def test_cams_do_not_depend_on_threads(images):
    torch.manual_seed(0)
    model = CamClassifier("resnet_tiny", num_classes=4, output_stride=8).eval()
    for image in images:
        cams = [
            with_threads(n, multiscale_cam, model, image, [0, 1, 3], scales=(1.0, 0.5), **META)
            for n in (1, 2)
        ]
        assert cams[0].shape == (3, *image.shape[:2])
        assert np.array_equal(*cams)


def test_clean_model_predictions_do_not_depend_on_threads(images):
    torch.manual_seed(0)
    model = SegmentationNet("resnet_tiny", 3, 8, "aspp").eval()
    for image in images:
        one, two = (
            with_threads(n, log_probs_and_features, model, image, META, "cpu") for n in (1, 2)
        )
        assert one[0].shape == (3, *image.shape[:2])
        assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])
