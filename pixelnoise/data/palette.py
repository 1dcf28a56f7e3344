"""Label maps as VOC-style palette PNGs (pixel value = class index, 255 = void)."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from pixelnoise.atomic import atomic_path
from pixelnoise.data.orientation import orientation, to_display


def voc_palette() -> list[int]:
    """The 256-entry PASCAL VOC colour map, flattened to 768 ints."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette.extend((r, g, b))
    return palette


def save_label_png(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Write an HxW uint8 label map as a palette PNG, atomically."""
    if labels.ndim != 2:
        raise ValueError(f"label map must be 2-D, got shape {labels.shape}")
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette(voc_palette())
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def load_label_png(path: str | os.PathLike) -> np.ndarray:
    """Read a palette (or greyscale) PNG as an HxW uint8 array of class indices, turned as its
    EXIF orientation says (see pixelnoise.data.orientation)."""
    with Image.open(path) as image:
        return to_display(np.array(image, dtype=np.uint8), orientation(image))
