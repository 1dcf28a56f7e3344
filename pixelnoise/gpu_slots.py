"""One CUDA device per job: slots over the visible GPUs, taken with file locks.

``snakemake --cores 8 --resources gpu=2`` caps the GPU jobs that run at once at two, but
Snakemake does not tell a job *which* GPU is its own: without help every job would pick
``cuda:0``. So a job that resolves ``device: auto`` (or a bare ``cuda``) takes a slot: the
first visible device whose lock file it can ``flock`` without waiting. The lock belongs to an
open file of the process, so it is released when the process exits, whatever way it exits
(also on SIGKILL), or when :meth:`Slot.release` / the ``with`` block closes it.

Lock files live in ``$PIXELNOISE_GPU_LOCK_DIR`` or else in ``<tmp>/pixelnoise-gpu-slots-<uid>``
(so every workflow of one user on one machine shares them), one file per physical device,
named after its ``CUDA_VISIBLE_DEVICES`` entry (two runs that see different devices as
``cuda:0`` do not block each other).

Under SLURM (``SLURM_JOB_ID`` set) the job's devices are its own allocation, made visible by
SLURM: with one GPU (what ``profiles/slurm`` asks for) that is ``cuda:0``, and nothing is
locked. Only when one SLURM job holds several GPUs (a whole workflow run inside one
allocation with ``--resources gpu=N``) are they shared out with locks, in a directory of that
job alone, because another job on the same node may also see its own, different GPU as
``cuda:0``.

When every slot is taken (more GPU jobs than devices, e.g. ``--resources gpu`` not given) a
job waits for one to become free and logs who holds them.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import socket
import tempfile
import threading
import time
from pathlib import Path

import torch

LOCK_DIR_ENV = "PIXELNOISE_GPU_LOCK_DIR"
# How often a job that waits for a slot tries again, and how often it says it still waits.
POLL_SECONDS = 1.0
WAIT_LOG_SECONDS = 600.0

log = logging.getLogger(__name__)


class GpuSlotTimeout(RuntimeError):
    """Every GPU slot stayed taken for longer than the caller was willing to wait."""


def lock_dir(environ=None) -> Path:
    """Where the lock files are: per user, and per SLURM job inside a SLURM job.

    >>> lock_dir({"PIXELNOISE_GPU_LOCK_DIR": "/locks"})
    PosixPath('/locks')
    >>> lock_dir({"PIXELNOISE_GPU_LOCK_DIR": "/locks", "SLURM_JOB_ID": "42"})
    PosixPath('/locks/slurm-job-42')
    """
    environ = os.environ if environ is None else environ
    base = environ.get(LOCK_DIR_ENV) or os.path.join(
        tempfile.gettempdir(), f"pixelnoise-gpu-slots-{os.getuid()}"
    )
    job = environ.get("SLURM_JOB_ID")
    return Path(base, f"slurm-job-{job}") if job else Path(base)


def device_keys(count: int, visible: str | None) -> list[str]:
    """Lock-file names of devices ``cuda:0 .. cuda:<count-1>``: their physical ids.

    ``visible`` is ``CUDA_VISIBLE_DEVICES`` (indices or UUIDs); unset means all devices.

    >>> device_keys(2, None)
    ['0', '1']
    >>> device_keys(2, "3, 1")
    ['3', '1']
    >>> device_keys(1, "GPU-8f1c/x")
    ['GPU-8f1c_x']
    """
    entries = [] if visible is None else [e.strip() for e in visible.split(",")]
    keys = []
    for index in range(count):
        key = entries[index] if index < len(entries) and entries[index] else str(index)
        keys.append(re.sub(r"[^A-Za-z0-9_.-]", "_", key))
    return keys


class Slot:
    """A held GPU: ``device`` is this process's until :meth:`release` (or the process exits)."""

    def __init__(self, index: int, path: Path, file) -> None:
        self.index = index
        self.path = path
        self._file = file
        self._pid = os.getpid()

    @property
    def device(self) -> torch.device:
        return torch.device("cuda", self.index)

    @property
    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is None:
            return
        if os.getpid() == self._pid:  # not in a forked child (a DataLoader worker)
            self._file.truncate(0)  # no stale holder in messages of waiting jobs
        # The flock goes when every copy of this open file is closed: a forked child that
        # closes its copy leaves the parent's lock in place.
        self._file.close()
        self._file = None

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "held" if self.held else "released"
        return f"Slot(cuda:{self.index}, {state}, {self.path})"


class GpuSlots:
    """The slots of ``count`` visible devices, with lock files in ``directory``."""

    def __init__(
        self, count: int, directory: Path | str | None = None, keys: list[str] | None = None
    ) -> None:
        if count < 1:
            raise ValueError(f"GpuSlots needs at least one device, got {count}")
        self.count = count
        self.directory = Path(directory) if directory is not None else lock_dir()
        keys = keys or device_keys(count, os.environ.get("CUDA_VISIBLE_DEVICES"))
        self.paths = [self.directory / f"gpu-{key}.lock" for key in keys]

    def try_acquire(self) -> Slot | None:
        """The first free slot, locked for this caller; None when all are taken."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise RuntimeError(
                f"cannot create the GPU lock directory {self.directory}: {error}; "
                f"set {LOCK_DIR_ENV} to a writable directory"
            ) from error
        for index, path in enumerate(self.paths):
            try:
                file = open(path, "a+")  # noqa: SIM115 - held for the life of the slot
            except OSError as error:
                raise RuntimeError(
                    f"cannot open the GPU lock file {path}: {error}; "
                    f"set {LOCK_DIR_ENV} to a writable directory"
                ) from error
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                file.close()
                continue
            except BaseException:
                file.close()
                raise
            file.truncate(0)
            file.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
            file.flush()
            return Slot(index, path, file)
        return None

    def acquire(self, timeout: float | None = None, poll: float = POLL_SECONDS) -> Slot:
        """The first free slot; waits for one while all are taken (at most ``timeout`` s)."""
        start = last_log = time.monotonic()
        logged = False
        while True:
            slot = self.try_acquire()
            if slot is not None:
                if logged:
                    log.info("GPU slot cuda:%d is free now", slot.index)
                return slot
            now = time.monotonic()
            if timeout is not None and now - start >= timeout:
                raise GpuSlotTimeout(
                    f"all {self.count} GPU slots stayed taken for {timeout:g} s "
                    f"({self.describe_holders()}); lock files in {self.directory}"
                )
            if not logged or now - last_log >= WAIT_LOG_SECONDS:
                log.info(
                    "all %d GPU slots are taken (%s); waiting for one to become free. "
                    "Run fewer GPU jobs at once with --resources gpu=%d",
                    self.count,
                    self.describe_holders(),
                    self.count,
                )
                logged, last_log = True, now
            time.sleep(poll)

    def describe_holders(self) -> str:
        """Who holds each slot, as the lock files say (for messages)."""
        parts = []
        for index, path in enumerate(self.paths):
            try:
                holder = path.read_text().strip() or "unknown"
            except OSError:
                holder = "unknown"
            parts.append(f"cuda:{index}: {holder}")
        return ", ".join(parts)


# The slot of this process: acquired once, on the first request, and kept (the module holds
# the only reference to its open lock file) until the process exits.
_process_slot: Slot | None = None
_process_lock = threading.Lock()


def process_device(timeout: float | None = None) -> torch.device:
    """The CUDA device of this process (CUDA must be available).

    A single visible device (also a SLURM job's own GPU) is ``cuda:0``, unlocked. With
    several, the first call takes a slot and later calls return the same device.
    """
    global _process_slot
    with _process_lock:
        if _process_slot is not None and _process_slot.held:
            return _process_slot.device
        count = torch.cuda.device_count()
        if count <= 1:
            return torch.device("cuda", 0)
        _process_slot = GpuSlots(count).acquire(timeout=timeout)
        log.info(
            "using GPU slot cuda:%d of %d (lock %s)", _process_slot.index, count, _process_slot.path
        )
        return _process_slot.device


def release_process_slot() -> None:
    """Give this process's slot back early (tests; long-lived processes done with the GPU)."""
    global _process_slot
    with _process_lock:
        if _process_slot is not None:
            _process_slot.release()
            _process_slot = None
