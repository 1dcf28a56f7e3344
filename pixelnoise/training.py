"""Pieces shared by every training loop: seeding, the poly schedule, CSV logs, checkpoints."""

from __future__ import annotations

import io
import logging
import os
import random
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from pixelnoise.atomic import atomic_path
from pixelnoise.errors import PixelnoiseError

log = logging.getLogger(__name__)


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


def make_loader(data, cfg: dict, seed: int) -> DataLoader:
    """Shuffled batches in a seeded order; the last partial batch is dropped when there are more."""
    return DataLoader(
        data,
        batch_size=cfg["batch_size"],
        shuffle=True,
        drop_last=len(data) > cfg["batch_size"],
        num_workers=cfg["num_workers"],
        generator=torch.Generator().manual_seed(seed),
    )


def fit(
    model: torch.nn.Module,
    data,
    *,
    backbone: torch.nn.Module,
    criterion,
    cfg: dict,
    seed: int,
    device: torch.device,
    log_path: str | os.PathLike,
    description: str,
    accuracy: Callable[[torch.Tensor, torch.Tensor], float] | None = None,
) -> list[dict]:
    """The shared training loop: poly schedule, 10x learning rate on the new head, CSV per epoch.

    ``data`` must have an ``epoch`` attribute (its augmentation is seeded by it). ``accuracy``
    optionally maps (outputs, targets) to a per-batch score logged as ``accuracy``.
    """
    loader = make_loader(data, cfg, seed)
    # The randomly initialised head learns faster than a (possibly pretrained) backbone.
    backbone_ids = {id(p) for p in backbone.parameters()}
    head = [p for p in model.parameters() if id(p) not in backbone_ids]
    optimizer = build_optimizer(
        [
            {"params": list(backbone.parameters()), "lr_mult": 1.0},
            {"params": head, "lr_mult": 10.0},
        ],
        cfg["optimizer"],
        cfg["lr"],
        cfg["weight_decay"],
    )
    total_steps = cfg["epochs"] * len(loader)
    log.info("%s: %d images, %d steps on %s", description, len(data), total_steps, device)
    step, history = 0, []
    for epoch in range(cfg["epochs"]):
        data.epoch = epoch
        model.train()
        start, losses, scores = time.time(), [], []
        for inputs, targets in tqdm(loader, desc=f"{description} {epoch + 1}", leave=False):
            lr = poly_lr(cfg["lr"], step, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_mult"]
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            step += 1
            if not torch.isfinite(loss):  # e.g. a batch of all-void crops carries no signal
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if accuracy is not None:
                scores.append(accuracy(outputs.detach(), targets))
        row = {"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else float("nan")}
        if accuracy is not None:
            row["accuracy"] = float(np.mean(scores)) if scores else float("nan")
        row.update({"lr": lr, "seconds": round(time.time() - start, 2)})
        history.append(row)
        log.info("%s epoch %d: loss %.4f", description, row["epoch"], row["loss"])
        write_csv(history, log_path)
    return history
