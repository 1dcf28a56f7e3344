"""EXIF orientation: images and masks are read as a viewer displays them.

A camera stores a photo as its sensor saw it and records the turn in the EXIF Orientation tag;
viewers, and so the tools masks are drawn with, show it turned. Every reader of the dataset
applies the tag (the same transpositions as Pillow's ``ImageOps.exif_transpose``), including
the strict libjpeg-turbo JPEG decoder, which ignores EXIF: an image and a mask drawn over its
displayed form line up, and sizes are compared as displayed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

ORIENTATION_TAG = 0x0112
# Orientation value -> the transposition that displays the stored pixels (as exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def orientation(image: Image.Image) -> int:
    """The EXIF orientation of an opened image (1, as stored, when absent or invalid)."""
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # a malformed EXIF block is ignored, as viewers ignore it
        return 1
    return value if value in _TRANSPOSE else 1


def displayed_size(image: Image.Image) -> tuple[int, int]:
    """(height, width) as displayed, from the header: orientations 5-8 swap the two."""
    width, height = image.size
    return (width, height) if orientation(image) >= 5 else (height, width)


def to_display(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """The stored pixels (H x W or H x W x 3 uint8) turned as the orientation says.

    >>> to_display(np.array([[1, 2], [3, 4]], np.uint8), 6).tolist()  # 90° clockwise
    [[3, 1], [4, 2]]
    """
    if orientation not in _TRANSPOSE:
        return pixels
    return np.asarray(Image.fromarray(pixels).transpose(_TRANSPOSE[orientation]))
