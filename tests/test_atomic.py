"""Atomic writes: a writer killed outright leaves a temporary sibling; the next write of the
same target removes it and nothing else."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pixelnoise.atomic import MARKER, ForeignOutputError, atomic_path

# Starts an atomic directory write, reports the temporary path, then hangs until killed.
HANGING_WRITER = """
import sys, time
from pixelnoise.atomic import MARKER, ForeignOutputError, atomic_path
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


def test_a_folder_it_did_not_write_is_never_replaced(tmp_path: Path):
    precious = tmp_path / "dataset"
    precious.mkdir()
    (precious / "image.jpg").write_bytes(b"irreplaceable")
    with pytest.raises(ForeignOutputError, match="dataset"), atomic_path(precious, directory=True):
        raise AssertionError("no work may start on a folder that cannot be written")
    assert (precious / "image.jpg").read_bytes() == b"irreplaceable"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_its_own_folder_is_replaced_and_an_empty_one_filled(tmp_path: Path):
    target = tmp_path / "out"
    target.mkdir()  # empty: nothing to lose
    for text in ("first", "second"):
        with atomic_path(target, directory=True) as tmp:
            (tmp / "metrics.csv").write_text(text)
    assert (target / "metrics.csv").read_text() == "second" and (target / MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_working_folder_is_refused(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ForeignOutputError), atomic_path(".", directory=True):
        pass
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_file_where_a_folder_goes_is_refused(tmp_path: Path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(ForeignOutputError, match="not a folder"):
        with atomic_path(tmp_path / "out", directory=True):
            pass


def test_a_failed_folder_rewrite_keeps_the_old_folder(tmp_path: Path, monkeypatch):
    target = tmp_path / "corrected"
    with atomic_path(target, directory=True) as tmp:
        (tmp / "a.npz").write_text("old")
    real_replace = os.replace

    def failing_replace(source, destination):
        if str(source).endswith(".tmp"):  # the new version's rename fails (e.g. disk full)
            raise OSError("no space left on device")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="no space"), atomic_path(target, directory=True) as tmp:
        (tmp / "a.npz").write_text("new")
    monkeypatch.setattr(os, "replace", real_replace)
    assert (target / "a.npz").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrected"]


def test_an_old_version_set_aside_by_a_killed_writer_is_restored(tmp_path: Path):
    target = tmp_path / "graphs"
    aside = tmp_path / ".graphs.abcd1234.old"
    aside.mkdir()
    (aside / MARKER).write_text("")
    (aside / "g.npz").write_text("old")
    with atomic_path(tmp_path / "graphs.csv") as tmp:  # another target: left alone
        tmp.write_text("x")
    assert aside.exists()
    with pytest.raises(RuntimeError), atomic_path(target, directory=True):
        raise RuntimeError("the next writer fails too")
    assert (target / "g.npz").read_text() == "old" and not aside.exists()


def test_evaluate_cli_refuses_a_foreign_out_folder(tmp_path: Path, capsys):
    from pixelnoise.__main__ import main

    out = tmp_path / "results"
    out.mkdir()
    (out / "report.md").write_text("a finished run")
    code = main(["evaluate", "--checkpoint", str(tmp_path / "missing.pt"), "--data-root",
                 str(tmp_path), "--out", str(out)])  # fmt: skip
    assert code == 2 and "refusing to replace" in capsys.readouterr().err
    assert (out / "report.md").read_text() == "a finished run"


def test_a_full_disk_is_reported_with_the_output_path(tmp_path: Path):
    import errno

    from pixelnoise.atomic import OutputWriteError

    target = tmp_path / "losses.zarr"
    with pytest.raises(OutputWriteError, match=r"losses\.zarr.*free some space"):
        with atomic_path(target, directory=True):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []
