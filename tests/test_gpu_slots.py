"""GPU slots: concurrent jobs get different devices; SLURM jobs use their own allocation.

The device count is faked (``torch.cuda.is_available`` / ``device_count``), so these run on
any machine; locks are real ``flock`` locks in a temporary directory.
"""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from pixelnoise import gpu_slots
from pixelnoise.device import resolve_device
from pixelnoise.errors import ConfigError
from pixelnoise.gpu_slots import GpuSlots, GpuSlotTimeout


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Locks in a fresh directory; no SLURM job, no CUDA_VISIBLE_DEVICES; no slot left over."""
    monkeypatch.setenv(gpu_slots.LOCK_DIR_ENV, str(tmp_path / "locks"))
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    gpu_slots.release_process_slot()
    yield tmp_path / "locks"
    gpu_slots.release_process_slot()


def fake_gpus(monkeypatch, count):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_cpu_when_no_cuda(monkeypatch, isolated):
    fake_gpus(monkeypatch, 0)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    for name in ("cuda", "cuda:0"):
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device(name)
    assert not isolated.exists()


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "cuda:0:1", "CUDA", "", "auto "])
def test_bad_device_names_are_config_errors(monkeypatch, name):
    fake_gpus(monkeypatch, 2)
    with pytest.raises(ConfigError, match="device must be auto, cpu, cuda or cuda:N"):
        resolve_device(name)


def test_explicit_index_is_used_as_given_and_checked(monkeypatch, isolated):
    fake_gpus(monkeypatch, 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)  # no slot: no exclusivity
    with pytest.raises(ConfigError, match=r"only 2 CUDA device\(s\) are visible"):
        resolve_device("cuda:2")
    assert not isolated.exists()


def test_single_gpu_is_cuda0_without_locking(monkeypatch, isolated):
    fake_gpus(monkeypatch, 1)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert not isolated.exists()


def test_auto_takes_a_slot_and_keeps_it_for_the_process(monkeypatch, isolated):
    fake_gpus(monkeypatch, 2)
    first = resolve_device("auto")
    assert first == torch.device("cuda", 0)
    # Later calls in the same process return the same device instead of taking another.
    assert resolve_device("cuda") == first
    assert resolve_device("auto") == first
    # The lock is really held: another allocator (another open file) gets the other device.
    with GpuSlots(2, isolated).acquire(timeout=0) as other:
        assert other.index == 1
        assert GpuSlots(2, isolated).try_acquire() is None
    gpu_slots.release_process_slot()
    with GpuSlots(2, isolated).acquire(timeout=0) as again:
        assert again.index == 0


def test_forked_worker_exiting_does_not_free_the_jobs_slot(monkeypatch, isolated):
    """DataLoader workers are forked copies of the job: their exit must not drop its lock."""
    fake_gpus(monkeypatch, 2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    child = os.fork()
    if child == 0:  # the worker: closes its copy of the lock file, as a clean exit would
        gpu_slots.release_process_slot()
        os._exit(0)
    assert os.waitpid(child, 0)[1] == 0
    with GpuSlots(2, isolated).acquire(timeout=0) as other:
        assert other.index == 1
    assert "pid" in (isolated / "gpu-0.lock").read_text()


def test_released_slot_is_reused_and_holders_are_named(isolated):
    first, second = GpuSlots(3, isolated), GpuSlots(3, isolated)
    a, b = first.acquire(timeout=0), second.acquire(timeout=0)
    c = GpuSlots(3, isolated).acquire(timeout=0)
    assert (a.index, b.index, c.index) == (0, 1, 2)
    with pytest.raises(GpuSlotTimeout, match=rf"all 3 GPU slots.*cuda:1: pid {os.getpid()}"):
        GpuSlots(3, isolated).acquire(timeout=0.2, poll=0.05)
    b.release()
    assert not b.held and b.path.read_text() == ""
    with GpuSlots(3, isolated).acquire(timeout=0) as reused:
        assert reused.index == 1
    assert not reused.held
    a.release()
    c.release()
    assert GpuSlots(3, isolated).try_acquire().index == 0


def test_locks_follow_physical_devices(isolated):
    """Two runs that number the same GPUs differently (CUDA_VISIBLE_DEVICES) do not collide."""
    holds_physical_0 = GpuSlots(2, isolated, keys=gpu_slots.device_keys(2, "0,1")).acquire(0)
    swapped = GpuSlots(2, isolated, keys=gpu_slots.device_keys(2, "1,0"))
    slot = swapped.acquire(timeout=0)
    assert slot.index == 0 and slot.path.name == "gpu-1.lock"  # its cuda:0 is physical GPU 1
    assert swapped.try_acquire() is None
    holds_physical_0.release()
    slot.release()


def test_slurm_job_uses_its_own_gpu_without_locking(monkeypatch, isolated):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")  # what SLURM made visible to this job
    fake_gpus(monkeypatch, 1)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert not isolated.exists()
    fake_gpus(monkeypatch, 0)
    assert resolve_device("auto") == torch.device("cpu")


def test_slurm_job_with_several_gpus_shares_them_only_within_the_job(monkeypatch, isolated):
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    fake_gpus(monkeypatch, 2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert gpu_slots.lock_dir() == isolated / "slurm-job-7"
    with GpuSlots(2).acquire(timeout=0) as same_job:
        assert same_job.index == 1  # the other GPU of the allocation
        # Another job on the node sees its own GPUs; this job's locks do not block it.
        monkeypatch.setenv("SLURM_JOB_ID", "8")
        with GpuSlots(2).acquire(timeout=0) as other_job:
            assert other_job.index == 0 and other_job.path.parent.name == "slurm-job-8"


CHILD = textwrap.dedent(
    """
    import sys, torch
    torch.cuda.is_available = lambda: True
    torch.cuda.device_count = lambda: 2
    from pixelnoise.device import resolve_device
    print(resolve_device("auto"), flush=True)
    sys.stdin.readline()  # hold the device until the test closes stdin
    """
)


def start_job():
    return subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def test_concurrent_processes_get_different_devices_and_a_waiting_one_gets_the_freed(isolated):
    jobs = [start_job()]
    try:
        assert jobs[0].stdout.readline().strip() == "cuda:0"
        jobs.append(start_job())
        assert jobs[1].stdout.readline().strip() == "cuda:1"
        jobs.append(start_job())  # both taken: it waits ...
        with pytest.raises(subprocess.TimeoutExpired):
            jobs[2].wait(timeout=3)
        jobs[0].stdin.close()  # ... until the first job exits, and gets its device
        assert jobs[0].wait(timeout=30) == 0
        assert jobs[2].stdout.readline().strip() == "cuda:0"
    finally:
        for job in jobs:
            if job.poll() is None:
                job.kill()
            job.wait()
            job.stdout.close()
            if job.stdin and not job.stdin.closed:
                job.stdin.close()
