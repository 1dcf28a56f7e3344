"""What Snakemake plans after an edit: dry runs against a finished run, parsed into jobs, and
edits that are undone exactly (content and modification time).

Used by the edit matrix (tests/test_incremental.py) and by benchmarks/rerun_matrix.py, which
measures the jobs and CPU-seconds an edit replans on a finished run.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path


def job(rule: str, **wildcards) -> str:
    """A planned job as ``rule[key=value, ...]`` (wildcards sorted), or ``rule``."""
    if not wildcards:
        return rule
    return f"{rule}[{', '.join(f'{k}={v}' for k, v in sorted(wildcards.items()))}]"


def parse_plan(output: str) -> dict[str, str | None]:
    """The jobs of a ``--dry-run``'s output, each with its benchmark file (or None), checked
    against the output's "Job stats" table."""
    if "Nothing to be done" in output:
        if "Job stats" in output:
            raise ValueError(f"a plan that is empty and is not:\n{output}")
        return {}
    jobs: dict[str, str | None] = {}
    lines = output.splitlines()
    for i, line in enumerate(lines):
        header = re.fullmatch(r"(?:local)?rule (\w+):", line.strip())
        if header is None:
            continue
        details = {}
        for detail in lines[i + 1 :]:
            if not detail.startswith("    "):
                break
            key, _, value = detail.strip().partition(": ")
            details[key] = value
        wildcards = details.get("wildcards")
        wildcards = dict(item.split("=", 1) for item in wildcards.split(", ")) if wildcards else {}
        name = job(header[1], **wildcards)
        if name in jobs:
            raise ValueError(f"job {name} planned twice:\n{output}")
        jobs[name] = details.get("benchmark")
    table = re.search(r"Job stats:\njob +count\n[- ]+\n(.*?)\ntotal +(\d+)\n", output, re.S)
    if table is None:
        raise ValueError(f"no Job stats table in:\n{output}")
    stats = Counter()
    for row in table[1].splitlines():
        rule, count = row.split()
        stats[rule] = int(count)
    if Counter(j.split("[")[0] for j in jobs) != stats or len(jobs) != int(table[2]):
        raise ValueError(f"the jobs listed do not match the Job stats table:\n{output}")
    return jobs


def dry_run(
    snakefile: Path,
    workdir: Path,
    configfiles: Sequence[Path] = (),
    options: Sequence[str] = (),
    timeout: float = 300,
) -> dict[str, str | None]:
    """The jobs Snakemake plans for ``workdir`` (with more command-line ``options``), with the
    package next to ``snakefile`` first on the import path (a copy of the repository plans
    with its own code)."""
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(snakefile),
        "--directory", str(workdir), "--cores", "2", "--dry-run", *options,
        *(["--configfile", *map(str, configfiles)] if configfiles else []),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(snakefile).resolve().parent)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"dry run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return parse_plan(result.stdout + result.stderr)


@contextlib.contextmanager
def edited(path: Path, change=lambda text: text) -> Iterator[Path]:
    """``path`` rewritten as ``change(text)`` with a newer modification time, restored
    exactly afterwards (bytes, access and modification times)."""
    path = Path(path)
    original, stat = path.read_bytes(), path.stat()
    try:
        path.write_bytes(change(original.decode()).encode())
        os.utime(path, ns=(stat.st_atime_ns, _later(stat)))
        yield path
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@contextlib.contextmanager
def touched(path: Path) -> Iterator[Path]:
    """``path`` as if edited in place (a newer modification time, the same bytes), restored
    exactly afterwards: safe on a dataset the run does not own."""
    path = Path(path)
    stat = path.stat()
    try:
        os.utime(path, ns=(stat.st_atime_ns, _later(stat)))
        yield path
    finally:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _later(stat: os.stat_result) -> int:
    """A modification time of an edit made now: newer than the file and than what the run
    made from it."""
    return max(time.time_ns(), stat.st_mtime_ns + 10**9)


def copy_repository(source: Path, destination: Path) -> Path:
    """A checkout's files (tracked and untracked, not ignored) with their modification times:
    Snakemake sees a finished run as finished with the copy's Snakefile too."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source, capture_output=True, check=True,
    )  # fmt: skip
    for name in listing.stdout.decode().split("\0"):
        if name and (Path(source) / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(source) / name, destination / name)
    return destination


def cpu_seconds(workdir: Path, plan: dict[str, str | None]) -> float:
    """The CPU-seconds the planned jobs took when the run computed them (their benchmark
    files' ``cpu_time``); jobs without a benchmark file count 0."""
    total = 0.0
    for benchmark in plan.values():
        path = Path(workdir) / benchmark if benchmark else None
        if path is not None and path.is_file():
            with open(path) as handle:
                rows = list(csv.DictReader(handle, delimiter="\t"))
            total += sum(float(row["cpu_time"]) for row in rows if row.get("cpu_time") not in
                         (None, "", "NA"))  # fmt: skip
    return total


# --- the edit matrix ---------------------------------------------------------------------------
# tests/test_incremental.py states what each edit must plan on the tiny run (and README.md shows
# it); benchmarks/rerun_matrix.py measures the jobs and CPU-seconds each replans on any run.
COMMENTS = "a comment in every package module"
#: Package modules given a real change (a new statement).
CODE_EDITS = (
    "pixelnoise/crf.py", "pixelnoise/gnn/layers.py", "pixelnoise/mllc.py",
    "pixelnoise/estimates.py", "pixelnoise/wsgcn.py", "pixelnoise/detect.py",
    "pixelnoise/graphs.py", "pixelnoise/cam.py", "pixelnoise/models/deeplab.py",
    "pixelnoise/data/synthetic.py",
)  # fmt: skip
#: One key per config section, merged over the run's config.
CONFIG_EDITS = {
    "seed": {"seed": 1},
    "dataset.synthetic.n_val": {"dataset": {"synthetic": {"n_val": 9}}},
    "split.seed": {"split": {"seed": 1}},
    "classifier.epochs": {"classifier": {"epochs": 3}},
    "second_classifier.epochs": {"second_classifier": {"epochs": 3}},
    "cam.tau_bg": {"cam": {"tau_bg": 0.25}},
    "cam.tau_bg_sweep": {"cam": {"tau_bg_sweep": [0.05, 0.1]}},
    "clean_model.epochs": {"clean_model": {"epochs": 4}},
    "detect.min_accuracy": {"detect": {"min_accuracy": 0.8}},
    "graph.n_segments": {"graph": {"n_segments": 120}},
    "correct.epochs": {"correct": {"epochs": 7}},
    "grid_graph.stride": {"grid_graph": {"stride": 8}},
    "wsgcn.steps": {"wsgcn": {"steps": 10}},
    "fan.t_fg": {"fan": {"t_fg": 0.2}},
    "mllc.ema": {"mllc": {"ema": 0.9}},
    "crf.iterations": {"crf": {"iterations": 5}},
    "segment.network.epochs": {"segment": {"network": {"epochs": 3}}},
    "device": {"device": "cpu"},
}
#: Files of a VOC-style dataset edited in place (a newer modification time), by kind and role
#: (the first image of the role, in id order); the labels CSV (a trailing blank line).
DATA_EDITS = {
    "a val mask": ("masks", "val"),
    "a D_c mask": ("masks", "strong"),
    "a weak mask": ("masks", "weak"),
    "a weak image": ("images", "weak"),
    "the labels CSV": ("labels", None),
}


def edit_plans(
    repository: Path,
    run: Path,
    configfiles: Sequence[Path],
    scratch: Path,
    data=None,
    kinds: Sequence[str] = ("code", "config", "data"),
) -> Iterator[tuple[str, dict[str, str | None]]]:
    """Each edit of the matrix (of ``kinds``) and the plan it gets, one after the other, every
    edit undone before the next. ``repository`` is edited: pass a copy (:func:`copy_repository`).
    ``data``: the run's :class:`pixelnoise.data.fingerprints.DatasetFingerprints` for the
    data edits (VOC-style datasets only), or None."""
    snakefile = Path(repository) / "Snakefile"
    if "code" in kinds:
        with contextlib.ExitStack() as stack:
            for module in sorted((Path(repository) / "pixelnoise").rglob("*.py")):
                stack.enter_context(edited(module, lambda text: text + "\n# a comment\n"))
            yield COMMENTS, dry_run(snakefile, run, configfiles)
        for module in CODE_EDITS:
            with edited(Path(repository) / module, lambda text: text + "\n_EDITED = True\n"):
                yield f"`{module}`", dry_run(snakefile, run, configfiles)
    if "config" in kinds:
        for i, (key, settings) in enumerate(CONFIG_EDITS.items()):
            change = Path(scratch) / f"edit{i}.yaml"
            change.write_text(json.dumps(settings))  # JSON is YAML
            yield f"`{key}`", dry_run(snakefile, run, [*configfiles, change])
    if data is None or "data" not in kinds:
        return
    for label, (kind, role) in DATA_EDITS.items():
        if kind == "labels":
            path = data.dataset.labels_file
            if not path.is_file():  # labels from XML annotations
                continue
        else:
            image_id = data.roles[role][0]
            path = (data.dataset.image_path if kind == "images" else data.dataset.mask_path)(
                image_id
            )
        # Snakemake reruns on an input's content, not its mtime alone (it keeps checksums of
        # small inputs): the labels CSV gets a real edit, a trailing blank line.
        edit = edited(path, lambda text: text + "\n") if kind == "labels" else touched(path)
        with edit:
            yield label, dry_run(snakefile, run, configfiles)
