"""Training: the shared loop (:mod:`~pixelnoise.training.loop`) and what each model trains on.

- :mod:`~pixelnoise.training.loop`: :func:`fit` with a step function, the poly schedule, logs;
- :mod:`~pixelnoise.training.classifier`: the multi-label CAM classifier (image-level labels);
- :mod:`~pixelnoise.training.segmentation`: segmentation networks on (image, label map) pairs.

Losses shared between families live in :mod:`pixelnoise.losses`.
"""

from pixelnoise.training.loop import (
    NonFiniteLossError,
    fit,
    make_loader,
    poly_lr,
    seed_everything,
    supervised_step,
    write_csv,
)

__all__ = [
    "NonFiniteLossError",
    "fit",
    "make_loader",
    "poly_lr",
    "seed_everything",
    "supervised_step",
    "write_csv",
]
