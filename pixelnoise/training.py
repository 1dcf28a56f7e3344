"""Pieces shared by every training loop: seeding, the poly schedule, CSV logs, checkpoints."""

from __future__ import annotations

import io
import os
import random

import numpy as np
import pandas as pd
import torch

from pixelnoise.atomic import atomic_path
from pixelnoise.errors import PixelnoiseError


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def poly_lr(base_lr: float, step: int, total_steps: int, power: float = 0.9) -> float:
    """DeepLab's poly schedule: ``base_lr * (1 - step/total)^power``.

    >>> poly_lr(0.1, 0, 10), round(poly_lr(0.1, 5, 10), 4), poly_lr(0.1, 10, 10)
    (0.1, 0.0536, 0.0)
    """
    return base_lr * (1.0 - min(step, total_steps) / max(total_steps, 1)) ** power


def build_optimizer(params, name: str, lr: float, weight_decay: float, momentum: float = 0.9):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise PixelnoiseError(f"unknown optimizer {name!r} (sgd | adamw)")


def write_csv(rows: list[dict], path: str | os.PathLike) -> None:
    """Write rows as CSV atomically (rewritten after every epoch, so it is always complete)."""
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, meta: dict) -> None:
    """Save weights with everything needed to rebuild the model (``meta``), atomically."""
    buffer = io.BytesIO()
    torch.save({"meta": meta, "state_dict": model.state_dict()}, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_checkpoint(path: str | os.PathLike) -> dict:
    if not os.path.isfile(path):
        raise PixelnoiseError(f"checkpoint not found: {path}")
    return torch.load(path, map_location="cpu")
