"""The shared training loop and its pieces: seeding, the poly schedule, CSV logs.

The loop is open: what one batch costs is a *step function* (``supervised_step(criterion)`` for
one model, one output and one target; a loss over several label maps or a teacher-student pair
is another step), so that every method family reuses the schedule, logging and the guard
against non-finite losses instead of copying them.
"""

from __future__ import annotations

import logging
import math
import os
import random
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from pixelnoise.atomic import atomic_path
from pixelnoise.device import autocast_dtype
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


def cosine_lr(base_lr: float, step: int, total_steps: int) -> float:
    """Cosine decay from ``base_lr`` to 0 over ``total_steps``.

    >>> cosine_lr(0.1, 0, 10), round(cosine_lr(0.1, 5, 10), 4), round(cosine_lr(0.1, 10, 10), 12)
    (0.1, 0.05, 0.0)
    """
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * min(step, total_steps) / max(total_steps, 1)))


SCHEDULES = {"poly": poly_lr, "cosine": cosine_lr}


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory so far: CUDA's allocator peak on a GPU, else the process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def autocast(device: torch.device, dtype: torch.dtype | None):
    """Autocast to ``dtype`` (see :func:`pixelnoise.device.autocast_dtype`); None: float32."""
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def flattened(losses: list[float], epochs: int, tolerance: float) -> bool:
    """Whether the epoch loss stopped falling: its best over the last ``epochs`` epochs is not
    ``tolerance`` (relative) below the best before them. ``epochs`` 0 never stops.

    >>> flattened([1.0, 0.8, 0.79, 0.795], 2, 0.05), flattened([1.0, 0.8, 0.6, 0.5], 2, 0.05)
    (True, False)
    """
    finite = [x for x in losses if math.isfinite(x)]
    if epochs <= 0 or len(finite) <= epochs:
        return False
    before, recent = min(finite[:-epochs]), min(finite[-epochs:])
    return recent > before * (1.0 - tolerance)


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


#: What a step returns: the loss to minimise (``None``: the batch carries no signal, e.g. every
#: pixel void, and is skipped), and the outputs and targets that ``accuracy`` scores (or None).
StepResult = tuple[torch.Tensor | None, torch.Tensor | None, Any]
Step = Callable[[torch.nn.Module, Any, torch.device], StepResult]


class NonFiniteLossError(PixelnoiseError):
    """Training produced more non-finite losses than the configuration allows."""


def supervised_step(criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor | None]) -> Step:
    """The step of a model with one input and one target: ``criterion(model(x), y)``.

    >>> step = supervised_step(torch.nn.functional.mse_loss)
    >>> loss, outputs, targets = step(torch.nn.Identity(), (torch.ones(2), torch.zeros(2)), "cpu")
    >>> float(loss)
    1.0
    """

    def step(model, batch, device):
        inputs, targets = batch
        inputs, targets = inputs.to(device), targets.to(device)
        outputs = model(inputs)
        return criterion(outputs, targets), outputs, targets

    return step


def fit(
    model: torch.nn.Module,
    data,
    *,
    backbone: torch.nn.Module,
    step: Step,
    cfg: dict,
    seed: int,
    device: torch.device,
    log_path: str | os.PathLike,
    description: str,
    config_key: str,
    accuracy: Callable[[torch.Tensor, Any], float] | None = None,
) -> list[dict]:
    """The shared training loop: poly schedule, 10x learning rate on the new head, CSV per epoch.

    ``data`` must have an ``epoch`` attribute (its augmentation is seeded by it). ``step`` maps
    (model, batch, device) to a :data:`StepResult`. ``accuracy`` optionally maps (outputs,
    targets) to a per-batch score logged as ``accuracy``.

    ``cfg``: the network section of the config: ``epochs``, ``lr``, ``lr_schedule`` (poly |
    cosine), ``optimizer``, ``weight_decay``, ``batch_size``, ``num_workers``, ``amp`` (float16
    with loss scaling on CUDA, bfloat16 autocast on a CPU with native bfloat16, else float32
    with a warning: :func:`pixelnoise.device.autocast_dtype`), ``channels_last``,
    ``plateau_epochs``/``plateau_tolerance`` (stop once the epoch loss has not fallen by the
    tolerance for that many epochs; 0 never stops) and ``max_nonfinite_losses``. Each epoch's
    CSV row has its loss, learning rate, seconds, images per second and the peak memory so far.
    ``config_key`` names the section in messages (e.g. ``segment.network``).

    A batch whose step returns no loss is skipped (counted as ``empty_batches``). A non-finite
    loss is skipped too, counted (``nonfinite_losses``) and logged; more of them than
    ``cfg["max_nonfinite_losses"]`` in one training stop it with :class:`NonFiniteLossError`,
    since a diverged model would otherwise train on for hours and be saved as if it were fine.
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
    limit = cfg["max_nonfinite_losses"]
    schedule = SCHEDULES[cfg["lr_schedule"]]
    dtype = autocast_dtype(device.type, bool(cfg["amp"]), config_key)
    scaler = torch.cuda.amp.GradScaler(enabled=dtype == torch.float16)
    if cfg["channels_last"]:
        model.to(memory_format=torch.channels_last)
    log.info("%s: %d images, %d steps on %s", description, len(data), total_steps, device)
    step_count, nonfinite, history = 0, 0, []
    for epoch in range(cfg["epochs"]):
        data.epoch = epoch
        model.train()
        start, losses, scores, empty = time.time(), [], [], 0
        for batch in tqdm(loader, desc=f"{description} {epoch + 1}", leave=False):
            lr = schedule(cfg["lr"], step_count, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_mult"]
            with autocast(device, dtype):
                loss, outputs, targets = step(model, batch, device)
            step_count += 1
            if loss is None:
                empty += 1
                continue
            if not torch.isfinite(loss):
                nonfinite += 1
                log.warning(
                    "%s: non-finite loss (%s) at epoch %d, step %d (%d of at most %d)",
                    description, loss.item(), epoch + 1, step_count, nonfinite, limit,
                )  # fmt: skip
                if nonfinite > limit:
                    raise NonFiniteLossError(
                        f"{description}: {nonfinite} non-finite losses, more than "
                        f"max_nonfinite_losses={limit}; lower the learning rate (`lr`) or raise "
                        f"the limit. The per-epoch log so far is in {log_path}"
                    )
                continue
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.item())
            if accuracy is not None and outputs is not None:
                scores.append(accuracy(outputs.detach(), targets))
        row = {"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else float("nan")}
        if accuracy is not None:
            row["accuracy"] = float(np.mean(scores)) if scores else float("nan")
        seconds = time.time() - start
        row.update({"lr": lr, "seconds": round(seconds, 2)})
        images = min(len(data), len(loader) * cfg["batch_size"])
        row["images_per_second"] = round(images / max(seconds, 1e-9), 2)
        row["peak_memory_mb"] = round(peak_memory_mb(device), 1)
        row.update({"empty_batches": empty, "nonfinite_losses": nonfinite})
        history.append(row)
        log.info("%s epoch %d: loss %.4f, %.1f images/s", description, row["epoch"], row["loss"],
                 row["images_per_second"])  # fmt: skip
        write_csv(history, log_path)
        if flattened([r["loss"] for r in history], cfg["plateau_epochs"], cfg["plateau_tolerance"]):
            log.info(
                "%s: the loss stopped falling; stopping after epoch %d", description, epoch + 1
            )
            break
    return history
