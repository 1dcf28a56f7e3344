"""Choosing where to compute: CUDA when present (``auto``), else CPU.

With several visible GPUs, ``auto`` and a bare ``cuda`` give each job a device of its own
(see :mod:`pixelnoise.gpu_slots`); ``cuda:N`` is used as given.
"""

from __future__ import annotations

import os
import re

import torch

from pixelnoise import gpu_slots
from pixelnoise.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """Map the config value ``device`` (auto | cpu | cuda | cuda:N) to a torch device.

    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("gpu")
    Traceback (most recent call last):
    ...
    pixelnoise.errors.ConfigError: device must be auto, cpu, cuda or cuda:N, got 'gpu'
    """
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", name) if isinstance(name, str) else None
    if name != "auto" and match is None:
        raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}")
    if not torch.cuda.is_available():
        raise ConfigError(f"device: {name!r} was requested but CUDA is not available")
    if name == "auto" or match[1] is None:
        return gpu_slots.process_device()
    index, count = int(match[1]), torch.cuda.device_count()
    if index >= count:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
        raise ConfigError(
            f"device: {name!r} was requested but only {count} CUDA device(s) are visible "
            f"(cuda:0 to cuda:{count - 1}; CUDA_VISIBLE_DEVICES={visible})"
        )
    return torch.device("cuda", index)
