"""Segmentation methods: networks trained on D_c's masks plus the weak images' labels of a
pseudo-label method, and two baselines (Yi et al. Sec. III-D, Table IV)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pixelnoise.methods.registry import CHECKPOINT, LABEL_MAPS, Method

DC_ONLY = "dc_only"  # the clean model: D_c ground truth only
FULL_GT = "full_gt"  # all train masks: an upper bound
TRAINING_MODULE = "pixelnoise.training.segmentation"


def baselines() -> Iterator[Method]:
    yield Method(
        DC_ONLY,
        "baseline",
        CHECKPOINT,
        stage="train_clean_model",
        consumes=("strong_masks",),
        module=TRAINING_MODULE,
        description="D_c ground truth only (the clean model)",
    )
    yield Method(
        FULL_GT,
        "baseline",
        CHECKPOINT,
        stage="train_segmentation",
        consumes=("strong_masks", "weak_masks"),
        module=TRAINING_MODULE,
        reads_weak_masks=True,
        options={"labels": "masks"},
        description="all train masks",
    )


def trained_on_pseudo_labels(label_methods: Iterable[Method]) -> Iterator[Method]:
    """One segmentation method per pseudo-label method, named after it."""
    for method in label_methods:
        if method.produces != LABEL_MAPS:
            continue
        yield Method(
            method.name,
            method.family,
            CHECKPOINT,
            stage="train_segmentation",
            consumes=("strong_masks", method.key),
            module=TRAINING_MODULE,
            options={"labels": "pseudo"},
            description=f"D_c + {method.name} labels",
        )
