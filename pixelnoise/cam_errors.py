"""Which kind of error a dataset's CAM labels make, and what it means for the label correction,
read from the pseudo-label table (the ``cam`` row's ``precision`` and its error split
``missed_fg`` / ``false_fg`` / ``wrong_class``, fractions of the labelled pixels, see
:meth:`pixelnoise.metrics.ConfusionMatrix.errors`).

Extent errors (an object labelled background, or background labelled an object) lie along
object borders and change from image to image, so a segmentation network trained on the labels
partly averages them away: a correction's gain on them tends to shrink from the pseudo labels
to the network. A wrong class labels a whole region consistently as another class (a shared
texture, a co-occurring context); the network learns it as it is, so only correcting the labels
removes it: there, a gain in the pseudo labels can carry over to the network.

>>> import pandas as pd
>>> print(cam_error_sentence(pd.DataFrame({"method": ["cam"], "precision": [0.64]})))
... # doctest: +NORMALIZE_WHITESPACE
No background class: every CAM error is a wrong class (36% of the CAM pixels); a
segmentation network learns these as they are, so only correcting the labels removes them: a
correction's gain in pseudo-label mIoU can carry over to the network.
"""

from __future__ import annotations

import math

import pandas as pd

KINDS = {
    "missed_fg": "missed objects (an object labelled background)",
    "false_fg": "spill-over (background labelled an object)",
    "wrong_class": "wrong classes",
}
EXTENT = ("missed_fg", "false_fg")
CARRIES_OVER = (
    "a segmentation network learns these as they are, so only correcting the labels removes "
    "them: a correction's gain in pseudo-label mIoU can carry over to the network"
)
AVERAGED_AWAY = (
    "these lie along object borders, and a segmentation network trained on the labels partly "
    "averages them away, so a correction's gain in pseudo-label mIoU tends to shrink at the "
    "network"
)


def cam_error_split(pseudo: pd.DataFrame) -> dict[str, float] | None:
    """The ``cam`` row's wrong pixels by kind (fractions of its labelled pixels), or None if
    the table has no ``cam`` row or no split (a dataset without a background class)."""
    rows = pseudo[pseudo["method"] == "cam"]
    if rows.empty:
        return None
    split = {kind: rows.iloc[0].get(kind, math.nan) for kind in KINDS}
    if any(pd.isna(value) for value in split.values()):
        return None
    return {kind: float(value) for kind, value in split.items()}


def cam_error_sentence(pseudo: pd.DataFrame) -> str:
    """One sentence for the report's opening: the dominant kind of CAM error on D_n, with its
    share, and what it means for the correction (see the module docstring)."""
    rows = pseudo[pseudo["method"] == "cam"]
    if rows.empty:
        return "The CAM labels were not scored (list `cam` in `methods`): their errors are unknown."
    split = cam_error_split(pseudo)
    if split is None:
        wrong = 1.0 - float(rows.iloc[0].precision)
        return (
            "No background class: every CAM error is a wrong class "
            f"({wrong:.0%} of the CAM pixels); {CARRIES_OVER}."
        )
    wrong = sum(split.values())
    if wrong <= 0:
        return "The CAM labels have no wrong pixel on D_n: there is nothing to correct."
    extent = sum(split[kind] for kind in EXTENT)
    if split["wrong_class"] > extent:
        kind, meaning = "mostly wrong classes (an object labelled as another class)", CARRIES_OVER
    else:
        kind = "mostly extent errors, above all " + KINDS[max(EXTENT, key=split.get)]
        meaning = AVERAGED_AWAY
    return (
        f"The CAM errors are {kind}: of the {wrong:.0%} wrong CAM pixels, missed objects are "
        f"{split['missed_fg'] / wrong:.0%}, spill-over {split['false_fg'] / wrong:.0%} and wrong "
        f"classes {split['wrong_class'] / wrong:.0%}; {meaning}."
    )
