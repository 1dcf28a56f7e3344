"""Image normalisation and the usual training augmentations: geometric (scale, flip, crop) and,
optionally, photometric (colour jitter, greyscale, blur).

One function serves classification (image only) and segmentation (image + label map), so the
two stages augment identically.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VOID = 255


def to_tensor(image: np.ndarray, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """HxWx3 uint8 RGB -> normalised 3xHxW float tensor."""
    array = (image.astype(np.float32) / 255.0 - np.asarray(mean, np.float32)) / np.asarray(
        std, np.float32
    )
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def random_scale_flip_crop(
    rng: np.random.Generator,
    image: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    scale_range: tuple[float, float],
    crop_size: int,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Randomly rescale, mirror and crop (padding with mean grey / void) to ``crop_size``².

    ``scale_range`` and ``crop_size`` are a network section's keys of the config. ``labels``
    is an H x W map, or H x W x K maps (several label estimates per pixel), all cropped alike.

    >>> rng = np.random.default_rng(0)
    >>> img, lab = random_scale_flip_crop(rng, np.zeros((50, 60, 3), np.uint8),
    ...                                   np.zeros((50, 60), np.uint8),
    ...                                   scale_range=(0.7, 1.3), crop_size=64)
    >>> img.shape, lab.shape, int(lab.max())
    ((64, 64, 3), (64, 64), 255)
    """
    scale = rng.uniform(*scale_range)
    height = max(1, round(image.shape[0] * scale))
    width = max(1, round(image.shape[1] * scale))
    image = resize_image(image, height, width)
    if labels is not None:
        resized = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
        labels = resized.reshape(height, width, *labels.shape[2:])  # cv2 drops a K = 1 axis
    if rng.random() < 0.5:
        image = image[:, ::-1]
        labels = labels[:, ::-1] if labels is not None else None
    pad_fill = np.round(np.asarray(IMAGENET_MEAN) * 255).astype(np.uint8)
    canvas_h, canvas_w = max(height, crop_size), max(width, crop_size)
    top = int(rng.integers(0, canvas_h - crop_size + 1))
    left = int(rng.integers(0, canvas_w - crop_size + 1))
    # Place the image at a random offset inside the canvas when it is smaller than the crop.
    off_y = int(rng.integers(0, canvas_h - height + 1))
    off_x = int(rng.integers(0, canvas_w - width + 1))
    canvas = np.empty((canvas_h, canvas_w, 3), np.uint8)
    canvas[:] = pad_fill
    canvas[off_y : off_y + height, off_x : off_x + width] = image
    image = canvas[top : top + crop_size, left : left + crop_size]
    if labels is not None:
        label_canvas = np.full((canvas_h, canvas_w, *labels.shape[2:]), VOID, np.uint8)
        label_canvas[off_y : off_y + height, off_x : off_x + width] = labels
        labels = label_canvas[top : top + crop_size, left : left + crop_size]
    return np.ascontiguousarray(image), labels


def photometric_jitter(
    rng: np.random.Generator, image: np.ndarray, jitter_probability: float = 1.0
) -> np.ndarray:
    """Colour jitter (brightness, contrast, saturation in [0.6, 1.4]; with probability
    ``jitter_probability``, UniMatch's 0.8 for MLLC's strong view), greyscale (p = 0.2) and
    Gaussian blur (p = 0.5) of an H x W x 3 uint8 image: FixMatch's and MLLC's strong view. The
    geometry is untouched, so label maps and other views stay pixel-aligned.

    >>> image = np.full((8, 8, 3), 100, np.uint8)
    >>> out = photometric_jitter(np.random.default_rng(0), image)
    >>> out.shape, out.dtype, bool((out != image).any())
    ((8, 8, 3), dtype('uint8'), True)
    """
    out = image.astype(np.float32)
    # No draw at probability 1: the other stages' augmentations stay as they were.
    if jitter_probability >= 1 or rng.random() < jitter_probability:
        out = out * rng.uniform(0.6, 1.4)  # brightness
        mean = out.mean()
        out = (out - mean) * rng.uniform(0.6, 1.4) + mean  # contrast
        grey = out.mean(axis=2, keepdims=True)
        out = (out - grey) * rng.uniform(0.6, 1.4) + grey  # saturation
    if rng.random() < 0.2:
        out = np.repeat(out.mean(axis=2, keepdims=True), 3, axis=2)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=float(rng.uniform(0.1, 2.0)))
    return out
