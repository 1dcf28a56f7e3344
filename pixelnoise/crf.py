"""Fully connected CRF (Krähenbühl & Koltun) refinement of per-pixel class probabilities.

A thin wrapper around ``pydensecrf`` (the ``pydensecrf2`` distribution) that keeps classes
which were disallowed for an image (all-zero probability, e.g. absent from the image-level
label) at exactly zero: the CRF only ever sees the classes that carry mass.

>>> import numpy as np
>>> image = np.zeros((4, 6, 3), np.uint8)
>>> probs = np.zeros((3, 4, 6), np.float32)
>>> probs[0], probs[2] = 0.6, 0.4          # class 1 is disallowed
>>> from pixelnoise.config import schema_defaults
>>> params = {**schema_defaults()["crf"], "iterations": 2}   # the crf section of the config
>>> refined = dense_crf(image, probs, **params)
>>> refined.shape, refined.dtype, float(refined[1].max())
((3, 4, 6), dtype('float32'), 0.0)
>>> bool(np.allclose(refined.sum(0), 1.0))
True
"""

from __future__ import annotations

import numpy as np

# Probabilities are clipped to this before -log, so a zero for an allowed class is a very
# expensive (but finite) label rather than an infinite unary that the CRF cannot overturn.
_EPS = 1e-8


def dense_crf(
    image: np.ndarray,
    probs: np.ndarray,
    *,
    iterations: int,
    gaussian_sxy: float,
    gaussian_compat: float,
    bilateral_sxy: float,
    bilateral_srgb: float,
    bilateral_compat: float,
) -> np.ndarray:
    """Refine ``probs`` (C x H x W, rows need not sum to 1) on ``image`` (H x W x 3 RGB uint8).

    Returns C x H x W float32 probabilities. Classes whose probability is zero everywhere stay
    exactly zero; if only one class has mass, it is returned as all ones without running the CRF.
    The pairwise terms are a smoothness Gaussian (``gaussian_*``) and an appearance bilateral
    kernel (``bilateral_*``), as in PSA/IRNet. The parameters are the config's ``crf`` section
    (defaults in the config schema).
    """
    # Imported here so that modules importing pixelnoise.crf for its signature do not need the
    # optional compiled dependency until a CRF is actually run.
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import unary_from_softmax

    probs = np.asarray(probs)
    image = np.asarray(image)
    if probs.ndim != 3:
        raise ValueError(f"probs must be C x H x W, got shape {probs.shape}")
    num_classes, height, width = probs.shape
    if image.shape != (height, width, 3):
        raise ValueError(f"image must be {height} x {width} x 3 to match probs, got {image.shape}")
    if image.dtype != np.uint8:
        # A float image in [0, 1] cast to uint8 would silently become black; make callers decide.
        raise ValueError(f"image must be uint8 RGB, got dtype {image.dtype}")
    if not np.all(np.isfinite(probs)):
        raise ValueError("probs contains NaN or infinite values")
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")

    active = np.flatnonzero((probs > 0).reshape(num_classes, -1).any(axis=1))
    if active.size == 0:
        raise ValueError("probs is zero for every class; nothing to refine")
    out = np.zeros((num_classes, height, width), np.float32)
    if active.size == 1:
        out[active[0]] = 1.0
        return out

    sub = np.clip(probs[active].astype(np.float32), _EPS, None)
    sub /= sub.sum(axis=0, keepdims=True)
    k = active.size
    crf = dcrf.DenseCRF2D(width, height, k)
    # Already clipped above; unary_from_softmax's own default clip (1e-5) would be coarser.
    crf.setUnaryEnergy(np.ascontiguousarray(unary_from_softmax(sub, clip=None)))
    crf.addPairwiseGaussian(sxy=gaussian_sxy, compat=gaussian_compat)
    # The C extension reads the buffer directly: it must be C-contiguous uint8 (crops/flips
    # produce views that are not).
    crf.addPairwiseBilateral(
        sxy=bilateral_sxy,
        srgb=bilateral_srgb,
        rgbim=np.require(image, np.uint8, ["C", "W"]),  # pydensecrf needs a writable buffer
        compat=bilateral_compat,
    )
    q = np.array(crf.inference(iterations), dtype=np.float32).reshape(k, height, width)
    out[active] = q
    return out
