"""Choosing where to compute: CUDA when present (``auto``), else CPU."""

from __future__ import annotations

import torch

from pixelnoise.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """Map the config value ``device`` (auto | cpu | cuda | cuda:N) to a torch device.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device: {name!r} was requested but CUDA is not available")
        return torch.device(name)
    raise ConfigError(f"device must be auto, cpu or cuda[:N], got {name!r}")
