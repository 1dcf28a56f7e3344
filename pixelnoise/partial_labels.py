"""WSGCN's partial pseudo labels (Pan et al. Sec. 3.1): confident CAM pixels of each class as
foreground seeds, confidently low CAM as background seeds, everything else ignored.

The recipe follows the public WSGCN code (which takes IRNet's): the CAMs are refined by the
dense CRF with a background plane ``(1 - max CAM) ** power`` at two powers. A low power makes
the background strong, so a pixel the CRF still gives to an object is a confident foreground
pixel; a high power makes it weak, so a pixel the CRF still gives to the background is a
confident background pixel. Foreground seeds are further kept to the top ``fg_top_fraction`` of
their class's CAM values above ``fg_min_cam``; background seeds need ``(1 - max CAM) **
bg_power > bg_min``. A pixel that is both is ignored. Without a background class (MSRC-21) there
is no background plane and no background seed: the CRF runs over the image's classes alone.

NumPy and the CRF only (no torch): the supervision source and the seed label maps use it.

>>> cams = np.zeros((2, 4, 6), np.float32)
>>> cams[0, :, :3], cams[1, :, 3:] = 1.0, 0.8
>>> cams[0, 0, 0] = 0.05            # below fg_min_cam: never a seed
>>> image = np.zeros((4, 6, 3), np.uint8)
>>> settings = {"fg_top_fraction": 0.3, "fg_min_cam": 0.1, "fg_power": 4, "bg_power": 32,
...             "bg_min": 0.8}
>>> crf = {"iterations": 5, "gaussian_sxy": 3, "gaussian_compat": 3, "bilateral_sxy": 50,
...        "bilateral_srgb": 5, "bilateral_compat": 3}
>>> seeds = partial_labels(image, cams, [3, 7], None, seeds=settings, crf=crf)
>>> seeds[0].tolist()
[255, 3, 3, 7, 7, 7]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pixelnoise.crf import dense_crf
from pixelnoise.metrics import VOID


def _crf_winner(image: np.ndarray, planes: np.ndarray, crf: dict) -> np.ndarray:
    """Index of the winning plane at each pixel after the CRF (planes: K x H x W scores)."""
    return dense_crf(image, planes, **crf).argmax(axis=0)


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
    ``seeds``: ``fg_top_fraction``, ``fg_min_cam``, ``fg_power``, ``bg_power``, ``bg_min``;
    ``crf``: the dense CRF's settings.
    """
    cams = np.asarray(cams, dtype=np.float32)
    classes = np.asarray(classes, dtype=np.int64)
    if cams.ndim != 3 or len(cams) != len(classes) or len(classes) == 0:
        raise ValueError(f"need K x H x W CAMs for K >= 1 classes, got {cams.shape}, {classes}")
    top = cams.max(axis=0)
    strongest = cams.argmax(axis=0)
    confident = np.zeros(top.shape, dtype=bool)
    for k in range(len(classes)):
        mine = strongest == k
        confident |= mine & top_fraction_mask(
            cams[k], seeds["fg_top_fraction"], seeds["fg_min_cam"]
        )
    labels = np.full(top.shape, VOID, np.uint8)
    if background is None:
        winner = _crf_winner(image, cams, crf) if len(classes) > 1 else strongest
        agree = confident & (winner == strongest)
        labels[agree] = classes[strongest[agree]]
        return labels
    low = 1.0 - top
    strong_bg = np.concatenate([low[None] ** seeds["fg_power"], cams])
    winner = _crf_winner(image, strong_bg, crf)
    fg = confident & (winner == strongest + 1)
    weak_bg = low ** seeds["bg_power"]
    bg = (weak_bg > seeds["bg_min"]) & (
        _crf_winner(image, np.concatenate([weak_bg[None], cams]), crf) == 0
    )
    labels[fg & ~bg] = classes[strongest[fg & ~bg]]
    labels[bg & ~fg] = background
    return labels


def image_partial_labels(run, cams, image_id: str, settings: dict) -> np.ndarray:
    """The partial labels of one image of a run (``run``: a RunData, ``cams``: its CAM reader,
    ``settings``: the config's ``wsgcn`` section)."""
    values, classes = cams.cams(image_id)
    image = run.dataset.read_image(image_id)
    return partial_labels(
        image, values, classes, run.background, seeds=settings["seeds"], crf=settings["crf"]
    )


def labeller(method, inputs):
    """The ``wsgcn_seeds`` method (registry): each weak image's partial labels."""
    settings = inputs.params["settings"]
    return lambda image_id: (
        image_partial_labels(inputs.run, inputs.cams, image_id, settings),
        False,
    )
