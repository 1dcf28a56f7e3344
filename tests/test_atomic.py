"""Atomic writes: a writer killed outright leaves a temporary sibling; the next write of the
same target removes it and nothing else."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pixelnoise.atomic import atomic_path

# Starts an atomic directory write, reports the temporary path, then hangs until killed.
HANGING_WRITER = """
import sys, time
from pixelnoise.atomic import atomic_path
with atomic_path(sys.argv[1], directory=True) as tmp:
    (tmp / "part.png").write_bytes(b"half")
    print(tmp, flush=True)
    time.sleep(600)
"""


def _killed_writer(target: Path) -> Path:
    process = subprocess.Popen(
        [sys.executable, "-c", HANGING_WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    tmp = Path(process.stdout.readline().strip())
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()
    return tmp


@pytest.mark.parametrize("directory", [True, False])
def test_next_write_removes_what_a_killed_writer_left(tmp_path: Path, directory: bool):
    target = tmp_path / "shard0"
    leftover = _killed_writer(target)
    assert leftover.is_dir() and leftover.parent == tmp_path and not target.exists()
    with atomic_path(target, directory=directory) as tmp:
        if directory:
            (tmp / "a.png").write_bytes(b"whole")
        else:
            tmp.write_text("whole")
    assert [p.name for p in tmp_path.iterdir()] == ["shard0"]


def test_temporary_paths_of_other_targets_are_kept(tmp_path: Path):
    others = [tmp_path / ".shard0.zarr.abcd1234.tmp", tmp_path / ".shard01.abcd1234.tmp"]
    for other in others:
        other.mkdir()
    with atomic_path(tmp_path / "shard0") as tmp:
        tmp.write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["shard0", *(o.name for o in others)]
    )


def test_a_failed_write_keeps_the_previous_target(tmp_path: Path):
    target = tmp_path / "theta.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["theta.json"]
