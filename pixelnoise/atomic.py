"""Atomic writes: produce into a temporary sibling, then rename over the target.

A crash leaves either the old file or the new one, never a truncated artifact that a
resumed run would mistake for a finished one. A process killed outright (SIGKILL, a SLURM
time limit) cannot clean up its temporary sibling, so the next write of the same target
removes it: every target has one writer at a time (Snakemake locks a job's outputs).

Folders are never deleted unless this program wrote them: every folder written here carries a
marker file (:data:`MARKER`), and an existing non-empty folder without it is refused with
:class:`ForeignOutputError` before any work is done. A folder being replaced is kept (renamed
aside) until its successor is complete, so a failed rewrite leaves the old result in place.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pixelnoise.errors import PixelnoiseError

#: The file that marks a folder as this program's output, which a later write may replace.
MARKER = ".pixelnoise-output"


class ForeignOutputError(PixelnoiseError):
    """An output folder exists and holds files this program did not write."""


class OutsideOutputError(PixelnoiseError):
    """A file name would place a file outside the output folder it belongs to."""


class OutputWriteError(PixelnoiseError):
    """Writing an output failed for lack of space or permission: the message names the output."""


# Errors that say what to do about the output's place (free space, permissions), not the code.
_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def _storage_error(target: Path, error: OSError) -> OutputWriteError:
    advice = (
        "free some space"
        if error.errno in (errno.ENOSPC, errno.EDQUOT)
        else ("check the folder's permissions")
    )
    return OutputWriteError(f"while writing {target}: {error} ({advice}, then run again)")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success rename it to ``target``.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "x.txt").read_text()
    'hello'
    """
    target = Path(target).absolute()  # "." has no name to put a sibling next to
    if directory:
        check_replaceable(target)  # before any work, not after an hour of it
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as error:
        if error.errno in _STORAGE_ERRORS:
            raise _storage_error(target, error) from error
        raise
    if not directory:
        tmp.rmdir()
    try:
        yield tmp
        if directory:
            (tmp / MARKER).write_text(
                "Written by pixelnoise: a later run may replace this folder.\n"
            )
            _replace_directory(tmp, target)
        else:
            os.replace(tmp, target)
    except OSError as error:
        _remove(tmp)
        if error.errno in _STORAGE_ERRORS:
            raise _storage_error(target, error) from error
        raise
    except BaseException:
        _remove(tmp)
        raise


def file_in(folder: str | os.PathLike, name: str) -> Path:
    """``folder / name``, refused (OutsideOutputError) unless it lies inside ``folder``: a name
    taken from the data (an image id) must never write elsewhere, even if a reader let a
    hostile one through (defence in depth: ids are checked where they are read).

    >>> file_in("out", "a.png").as_posix()
    'out/a.png'
    >>> try:
    ...     file_in("out", "../b.png")
    ... except OutsideOutputError as error:
    ...     print(error)
    refusing to write out/../b.png: the name '../b.png' leads outside the output folder out
    """
    path = Path(folder) / name
    if path.resolve().parent != Path(folder).resolve():  # also refuses subfolders and links
        raise OutsideOutputError(
            f"refusing to write {path}: the name {name!r} leads outside the output folder {folder}"
        )
    return path


def check_replaceable(target: str | os.PathLike) -> None:
    """Raise ForeignOutputError unless ``target`` is absent, an empty folder, or a folder this
    program wrote (it holds :data:`MARKER`)."""
    target = Path(target)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ForeignOutputError(f"{target} exists and is not a folder; choose another output path")
    if target.is_dir() and not (target / MARKER).is_file() and any(target.iterdir()):
        raise ForeignOutputError(
            f"refusing to replace {target}: it holds files that pixelnoise did not write (no "
            f"{MARKER} marker). Choose an empty or new output folder, or move its contents away."
        )


def check_outside_runs(target: str | os.PathLike) -> None:
    """Raise ForeignOutputError if ``target`` lies inside a folder the workflow tracks: a run's
    ``results/`` (next to Snakemake's ``.snakemake``) or any folder this program wrote. Such a
    folder may carry the marker and so be replaceable, but replacing it by hand would leave
    the workflow with an output that Snakemake still takes for finished."""
    target = Path(target).absolute()
    for folder in target.parents:
        run = folder.name == "results" and (folder.parent / ".snakemake").is_dir()
        if run or (folder / MARKER).is_file():
            raise ForeignOutputError(
                f"refusing to write {target}: it lies inside "
                f"{'the run folder' if run else 'the workflow output'} {folder}, which the "
                f"workflow tracks; choose an output folder outside it"
            )


def _replace_directory(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``, keeping an existing ``target`` aside until that succeeded."""
    check_replaceable(target)  # it may have changed while the work was done
    if not target.exists():
        os.replace(tmp, target)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    backup.rmdir()
    os.replace(target, backup)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(backup, target)
        raise
    _remove(backup)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _remove_leftovers(target: Path) -> None:
    """Remove temporary siblings of ``target`` left by a writer that was killed: unfinished new
    versions (``.tmp``), and old versions set aside (``.old``) once the target exists again;
    an old version whose successor never arrived is put back."""
    # Exactly mkdtemp's names, so that ".a.zarr.<random>.tmp" is not taken for a leftover of "a".
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.(tmp|old)")
    for leftover in sorted(target.parent.glob(f".{glob.escape(target.name)}.*")):
        match = pattern.fullmatch(leftover.name)
        if match is None:
            continue
        if match[1] == "old" and not target.exists() and not target.is_symlink():
            os.replace(leftover, target)
        else:
            _remove(leftover)


def write_text(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
