import numpy as np
import pytest
import torch
from torch import nn

from pixelnoise.cam import multiscale_cam, normalise_cams
from pixelnoise.cam_labels import cam_label_map, cam_labels, cam_seeds


def test_normalise_cams_rectifies_and_scales_each_class_to_one():
    cams = torch.tensor([[[-1.0, 2.0], [4.0, 1.0]], [[0.5, -3.0], [0.25, 0.0]]])
    out = normalise_cams(cams)
    expected = torch.tensor([[[0.0, 0.5], [1.0, 0.25]], [[1.0, 0.0], [0.5, 0.0]]])
    assert torch.allclose(out, expected, atol=1e-4)


def test_normalise_cams_keeps_all_zero_map_at_zero():
    out = normalise_cams(torch.full((1, 3, 3), -2.0))
    assert torch.count_nonzero(out) == 0


def test_cam_labels_with_background_threshold():
    cams = np.zeros((2, 2, 3), np.float32)
    cams[0] = [[0.9, 0.5, 0.01], [0.2, 0.0, 0.04]]
    cams[1] = [[0.1, 0.6, 0.02], [0.3, 0.06, 0.0]]
    labels = cam_labels(cams, classes=[4, 7], low_label=0, tau=0.05)
    assert labels.tolist() == [[4, 7, 0], [7, 7, 0]]


def test_cam_labels_without_background_leave_low_pixels_void():
    cams = np.array([[[0.9, 0.01]]], np.float32)
    assert cam_labels(cams, [3], low_label=255, tau=0.05).tolist() == [[3, 255]]
    assert cam_labels(cams, [3], low_label=255, tau=0.0).tolist() == [[3, 3]]


class RedGreenCam(nn.Module):
    """A fake classifier: class 0's CAM is the red channel, class 1's the green, at stride 2."""

    def cam(self, images):
        return nn.functional.avg_pool2d(images[:, :2], 2)


def _image():
    image = np.zeros((20, 30, 3), np.uint8)
    image[:, :10, 0] = 255  # red stripe on the left
    image[12:, :, 1] = 255  # green band at the bottom
    return image


@pytest.mark.parametrize("scales,flip", [((1.0,), False), ((1.0, 0.5, 1.5), True)])
def test_multiscale_cam_localises_and_is_normalised(scales, flip):
    unit = dict(mean=(0, 0, 0), std=(1, 1, 1))
    cams = multiscale_cam(RedGreenCam(), _image(), [0, 1], scales=scales, flip=flip, **unit)
    assert cams.shape == (2, 20, 30) and cams.dtype == np.float32
    assert cams.min() >= 0 and cams.max() == pytest.approx(1.0, abs=1e-3)
    assert cams[0, :, :8].mean() > 0.9 and cams[0, :, 14:].max() < 0.05
    assert cams[1, 14:].mean() > 0.9 and cams[1, :9].max() < 0.05


def test_multiscale_cam_selects_requested_channels():
    unit = dict(mean=(0, 0, 0), std=(1, 1, 1))
    both = multiscale_cam(RedGreenCam(), _image(), [0, 1], flip=False, **unit)
    green = multiscale_cam(RedGreenCam(), _image(), [1], flip=False, **unit)
    assert np.allclose(green[0], both[1])


def test_cam_label_map_without_background_labels_every_pixel():
    cams = np.array([[[0.9, 0.01]], [[0.2, 0.02]]], np.float32)
    assert cam_label_map(cams, [3, 5], background=None, tau_bg=0.5).tolist() == [[3, 5]]
    assert cam_label_map(cams, [3, 5], background=0, tau_bg=0.5).tolist() == [[3, 0]]


def test_cam_seeds_keep_only_confident_pixels():
    cams = np.array([[[0.9, 0.2, 0.01]]], np.float32)
    assert cam_seeds(cams, [4], background=0, fg=0.3, bg=0.05).tolist() == [[4, 255, 0]]
    assert cam_seeds(cams, [4], background=None, fg=0.3, bg=0.05).tolist() == [[4, 255, 255]]
