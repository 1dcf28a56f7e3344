"""Per-image results that do not depend on how many threads a job has.

A job's thread count follows from ``shards`` (``cores // shards``), so a map written by a
one-shard run must equal the one written by a three-shard run bit for bit. Two families of CPU
kernels break that: oneDNN (mkldnn) convolutions, which block their sums by thread count, and
element-wise kernels such as bilinear upsampling and softmax, which split their range into one
chunk per thread and take a vectorised path inside a chunk but a scalar one at its edges (the
two round differently). ATen's own convolutions give the same bits with any thread count once
MKL runs in strict reproducible mode (``MKL_CBWR``, set in ``pixelnoise/__init__.py``): on
AVX-512 processors its matrix products otherwise pick kernels by thread count.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def single_thread() -> Iterator[None]:
    """Run the enclosed torch operations on one intra-op thread (meant for cheap operations).

    >>> before = torch.get_num_threads()
    >>> with single_thread():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
