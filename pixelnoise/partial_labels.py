"""WSGCN's partial pseudo labels (Pan et al. Sec. 3.1): confident CAM pixels of each class as
foreground seeds, confidently low CAM as background seeds, everything else ignored.

The paper only says it follows PSA/IRNet; the recipe is the public code's (``compute_seg_label``,
shared/papers/reference-details.md, WSGCN 1), at the CAMs' stride (``stride``: image and CAMs
are area-downsampled, the labels nearest-upsampled back). Two score stacks put a background
plane ``(1 - max CAM) ** power`` under the image's CAMs, and each goes through the seed CRF
(``seed_crf``, the code's own settings):

- at ``fg_power`` (4) the background plane is strong, so a pixel the CRF still gives to an
  object is a foreground candidate, and one it gives to the background is *ignored*;
- at ``bg_power`` (32) it is weak, so a pixel the CRF still gives to the background is
  background (also over an object candidate, as in the code).

A pixel is then ignored unless it is in its *sure region* -- for an object, where its CAM is the
argmax of the ``bg_power`` stack and above ``fg_min_cam`` (within the top ``fg_top_fraction``);
for the background, where the ``bg_power`` plane is the argmax and above ``bg_min`` -- and unless
its CRF confidence (the top of the ``bg_power`` CRF's background and the ``fg_power`` CRF's
objects) reaches ``confidence`` (0.8). A pixel the two CRFs dispute (background at ``fg_power``,
an object at ``bg_power``) is therefore never a seed.

Without a background class (MSRC-21) there is no background plane and neither stack: one CRF runs
over the image's CAMs alone, and a pixel is a seed of its CRF class when that class is also its
CAM argmax (the analogue of the two CRFs agreeing), it is in that class's sure region, and its
CRF confidence reaches ``confidence``.

NumPy, OpenCV and the CRF only (no torch): the supervision source and the seed label maps use it.

>>> cams = np.zeros((2, 4, 6), np.float32)
>>> cams[0, :, :3], cams[1, :, 3:] = 1.0, 0.8
>>> cams[0, 0, 0] = 0.05            # below fg_min_cam: never a seed
>>> image = np.zeros((4, 6, 3), np.uint8)
>>> settings = {"fg_top_fraction": 1.0, "fg_min_cam": 0.1, "fg_power": 4, "bg_power": 32,
...             "bg_min": 0.8, "confidence": 0.8, "stride": 1}
>>> crf = {"iterations": 5, "gaussian_sxy": 4, "gaussian_compat": 3, "bilateral_sxy": 20,
...        "bilateral_srgb": 3, "bilateral_compat": 10}
>>> seeds = partial_labels(image, cams, [3, 7], None, seeds=settings, crf=crf)
>>> seeds[0].tolist()
[255, 3, 3, 7, 7, 7]
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from pixelnoise.crf import dense_crf
from pixelnoise.metrics import VOID


def top_fraction_mask(values: np.ndarray, fraction: float, minimum: float) -> np.ndarray:
    """Where ``values`` are above ``minimum`` and in the top ``fraction`` of those that are.

    >>> top_fraction_mask(np.array([0.05, 0.2, 0.4, 0.6, 0.8, 1.0]), 0.4, 0.1).tolist()
    [False, False, False, False, True, True]
    """
    above = values > minimum
    if not above.any():
        return above
    cut = np.quantile(values[above], 1.0 - fraction)
    return above & (values >= cut)


def _sure_objects(cams: np.ndarray, winner: np.ndarray, seeds: dict, offset: int) -> np.ndarray:
    """Where an object's CAM is the stack's argmax (``winner == k + offset``) and in the top
    ``fg_top_fraction`` of its values above ``fg_min_cam`` there."""
    sure = np.zeros(winner.shape, dtype=bool)
    for k, cam in enumerate(cams):
        mine = winner == k + offset
        sure |= mine & top_fraction_mask(
            np.where(mine, cam, 0.0), seeds["fg_top_fraction"], seeds["fg_min_cam"]
        )
    return sure


def _downsampled(image: np.ndarray, cams: np.ndarray, stride: int):
    """Image and CAMs at ``1 / stride`` of the size (area averages), as the code's stride-4."""
    if stride == 1:
        return image, cams
    height, width = -(-image.shape[0] // stride), -(-image.shape[1] // stride)
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    small_cams = np.stack(
        [cv2.resize(c, (width, height), interpolation=cv2.INTER_AREA) for c in cams]
    )
    return np.ascontiguousarray(small), small_cams


def stack_labels(
    image: np.ndarray, cams: np.ndarray, background: bool, *, seeds: dict, crf: dict
) -> np.ndarray:
    """H x W plane indices (0: background when ``background``, else the first CAM; VOID:
    ignored) of the recipe above, at the resolution of ``image`` and ``cams``."""
    top = cams.max(axis=0)
    if not background:
        winner = cams.argmax(axis=0)
        refined = dense_crf(image, cams, **crf) if len(cams) > 1 else np.ones_like(cams)
        label = refined.argmax(axis=0)
        keep = (label == winner) & _sure_objects(cams, winner, seeds, 0)
        keep &= refined.max(axis=0) >= seeds["confidence"]
        return np.where(keep, label, VOID)
    low = 1.0 - top
    weak_bg = np.concatenate([low[None] ** seeds["bg_power"], cams])
    strong_bg = np.concatenate([low[None] ** seeds["fg_power"], cams])
    refined_strong = dense_crf(image, strong_bg, **crf)
    refined_weak = dense_crf(image, weak_bg, **crf)
    label = refined_strong.argmax(axis=0)
    label = np.where(label == 0, VOID, label)  # the strong plane's background: unsure
    label = np.where(refined_weak.argmax(axis=0) == 0, 0, label)
    winner = weak_bg.argmax(axis=0)
    sure = _sure_objects(cams, winner, seeds, 1) | ((winner == 0) & (weak_bg[0] > seeds["bg_min"]))
    confidence = np.maximum(refined_weak[0], refined_strong[1:].max(axis=0))
    keep = sure & (confidence >= seeds["confidence"])
    return np.where(keep, label, VOID)


def partial_labels(
    image: np.ndarray,
    cams: np.ndarray,
    classes: Sequence[int],
    background: int | None,
    *,
    seeds: dict,
    crf: dict,
) -> np.ndarray:
    """H x W uint8 seeds: a class index on seed pixels, VOID elsewhere.

    ``cams``: K x H x W normalised CAMs (values in [0, 1]) of the image's ``classes``;
    ``seeds``: the config's ``wsgcn.seeds``; ``crf``: the seed CRF's settings
    (``wsgcn.seed_crf``).
    """
    cams = np.asarray(cams, dtype=np.float32)
    classes = np.asarray(classes, dtype=np.int64)
    if cams.ndim != 3 or len(cams) != len(classes) or len(classes) == 0:
        raise ValueError(f"need K x H x W CAMs for K >= 1 classes, got {cams.shape}, {classes}")
    small_image, small_cams = _downsampled(np.asarray(image), cams, int(seeds["stride"]))
    planes = stack_labels(small_image, small_cams, background is not None, seeds=seeds, crf=crf)
    names = np.asarray([*([background] if background is not None else []), *classes], np.int64)
    labels = np.full(planes.shape, VOID, np.uint8)
    labels[planes != VOID] = names[planes[planes != VOID]]
    height, width = cams.shape[1:]
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)


def image_partial_labels(run, cams, image_id: str, settings: dict) -> np.ndarray:
    """The partial labels of one image of a run (``run``: a RunData, ``cams``: its CAM reader,
    ``settings``: the config's ``wsgcn`` section)."""
    values, classes = cams.cams(image_id)
    image = run.dataset.read_image(image_id)
    return partial_labels(
        image, values, classes, run.background, seeds=settings["seeds"], crf=settings["seed_crf"]
    )


def labeller(method, inputs):
    """The ``wsgcn_seeds`` method (registry): each weak image's partial labels."""
    settings = inputs.params["settings"]
    return lambda image_id: (
        image_partial_labels(inputs.run, inputs.cams, image_id, settings),
        False,
    )
