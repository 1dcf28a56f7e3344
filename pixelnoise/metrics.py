"""Segmentation metrics from a confusion matrix: IoU per class, mIoU (%), pixel accuracy.

Ground-truth void (255) is ignored. A prediction may also be void (an unlabelled pseudo-label
pixel): it counts towards neither IoU nor precision, only against coverage.

>>> import numpy as np
>>> m = ConfusionMatrix(2)
>>> m.update(np.array([[0, 1], [1, 255]]), np.array([[0, 1], [0, 1]]))
>>> round(m.miou(), 2), m.precision(), m.coverage()
(50.0, 0.6666666666666666, 0.75)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm import tqdm

from pixelnoise.atomic import atomic_path

if TYPE_CHECKING:
    from pixelnoise.data.voc import VocDataset

VOID = 255
#: Each evaluated segmentation model's one-row table, in its result folder.
METRICS_FILE = "metrics.csv"


class ConfusionMatrix:
    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)  # rows: truth
        self.valid = 0  # ground-truth pixels that are not void
        self.labelled = 0  # ... of which the prediction is not void

    def update(self, prediction: np.ndarray, truth: np.ndarray) -> None:
        if prediction.shape != truth.shape:
            raise ValueError(f"prediction {prediction.shape} and truth {truth.shape} differ")
        truth = truth.astype(np.int64).ravel()
        prediction = prediction.astype(np.int64).ravel()
        valid = truth != VOID
        labelled = valid & (prediction != VOID)
        self.valid += int(valid.sum())
        self.labelled += int(labelled.sum())
        k = self.num_classes
        if labelled.any() and max(truth[labelled].max(), prediction[labelled].max()) >= k:
            raise ValueError(f"class index outside 0..{k - 1} in prediction or truth")
        self.matrix += np.bincount(
            truth[labelled] * k + prediction[labelled], minlength=k * k
        ).reshape(k, k)

    def iou(self) -> np.ndarray:
        """IoU per class; NaN for classes absent from both truth and prediction."""
        tp = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / union, np.nan)

    def miou(self) -> float:
        """Mean IoU in percent over the classes that occur."""
        iou = self.iou()
        return float(np.nanmean(iou) * 100) if np.isfinite(iou).any() else float("nan")

    def precision(self) -> float:
        """Fraction of labelled pixels whose label is right (pixel accuracy when fully labelled)."""
        return float(np.trace(self.matrix) / self.labelled) if self.labelled else float("nan")

    def coverage(self) -> float:
        """Fraction of non-void ground-truth pixels that received a label."""
        return self.labelled / self.valid if self.valid else float("nan")

    def errors(self, background: int) -> dict[str, float]:
        """Where the wrong labels are, as fractions of the labelled pixels (they sum to
        1 - precision): ``missed_fg``, an object labelled background (a partial CAM);
        ``false_fg``, background labelled an object (a CAM spilling over); ``wrong_class``, an
        object labelled as another.

        >>> m = ConfusionMatrix(3)
        >>> m.update(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 0, 1, 2]))
        >>> m.errors(background=0)
        {'missed_fg': 0.2, 'false_fg': 0.2, 'wrong_class': 0.2}
        """
        objects = np.arange(self.num_classes) != background
        wrong = self.matrix * (1 - np.eye(self.num_classes, dtype=np.int64))
        counts = {
            "missed_fg": wrong[objects, background].sum(),
            "false_fg": wrong[background, objects].sum(),
            "wrong_class": wrong[np.ix_(objects, objects)].sum(),
        }
        return {key: float(n / self.labelled) if self.labelled else float("nan")
                for key, n in counts.items()}  # fmt: skip

    def summary(self, class_names: list[str] | None = None) -> dict:
        """mIoU, precision, coverage and one ``iou_<class>`` entry per class (percent)."""
        names = class_names or [str(i) for i in range(self.num_classes)]
        row = {
            "miou": self.miou(),
            "precision": self.precision(),
            "coverage": self.coverage(),
        }
        row.update(
            {f"iou_{name}": value * 100 for name, value in zip(names, self.iou(), strict=True)}
        )
        return row


def score_label_maps(
    dataset: VocDataset,
    ids: Iterable[str],
    predictors: dict[object, Callable[[str], np.ndarray]],
    desc: str = "evaluate",
) -> tuple[dict[object, ConfusionMatrix], list[str]]:
    """One confusion matrix per named predictor, reading each ground-truth mask once, and the
    ids scored: images without a mask (the normal case for weakly labelled data) or with an
    unusable one (a warning names it) are skipped, and with none left every score is NaN."""
    matrices = {name: ConfusionMatrix(dataset.classes.num_classes) for name in predictors}
    scored = []
    for image_id in tqdm(list(ids), desc=desc, mininterval=5):
        truth = dataset.scoring_mask(image_id)
        if truth is None:
            continue
        scored.append(image_id)
        for name, predict in predictors.items():
            matrices[name].update(predict(image_id), truth)
    return matrices, scored


def write_rows(rows: list[dict], path: str) -> None:
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.4f")
