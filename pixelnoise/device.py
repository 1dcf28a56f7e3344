"""Choosing where to compute: CUDA when present (``auto``), else CPU; and in what precision.

With several visible GPUs, ``auto`` and a bare ``cuda`` give each job a device of its own
(see :mod:`pixelnoise.gpu_slots`); ``cuda:N`` is used as given.
"""

from __future__ import annotations

import logging
import os
import re

import torch

from pixelnoise import gpu_slots
from pixelnoise.errors import ConfigError

log = logging.getLogger(__name__)


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


def native_bfloat16() -> bool:
    """Whether this CPU runs bfloat16 natively (oneDNN's probe: AVX512 or newer). A
    torch without the probe counts as no."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_capability() -> str:
    """The vector instructions torch's CPU kernels use here (e.g. ``AVX2``, ``AVX512``)."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return "unknown"


def autocast_dtype(device_type: str, amp: bool, config_key: str) -> torch.dtype | None:
    """The dtype a network section's ``amp`` trains in under autocast, or None (float32).

    ``amp: true`` means mixed precision where the device runs it natively: float16 (with loss
    scaling) on CUDA; bfloat16 on a CPU with native bfloat16. Elsewhere bfloat16 is emulated and
    far slower than float32 (25 s against 0.57 s per step on an AVX2 CPU, docs/benchmarks.md,
    "bfloat16 needs native support"), so the training runs in float32 and a warning names
    ``config_key`` (the network section, e.g. ``segment.network``).

    >>> autocast_dtype("cuda", True, "segment.network"), autocast_dtype("cpu", False, "x")
    (torch.float16, None)
    """
    if not amp:
        return None
    if device_type == "cuda":
        return torch.float16
    if native_bfloat16():
        return torch.bfloat16
    log.warning(
        "%s.amp is true, but this CPU (%s) has no native bfloat16, where emulated bfloat16 "
        "autocast is tens of times slower than float32: training in float32 instead",
        config_key, cpu_capability(),
    )  # fmt: skip
    return None
