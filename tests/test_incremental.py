"""Incremental reruns: what Snakemake plans after a change to a finished tiny run.

Every test is a dry run against the shared finished run (or a copy of it): changing a setting or
a package module plans its stage and everything downstream, and nothing upstream.
"""

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests/configs/tiny.yaml"

RUNS = ["camseeds_gat", "detect_gat", "detect_gcn", "oracle_gat"]
METHODS = ["cam", "detect", "camseeds_gat", "detect_gat", "detect_gcn", "detect_gat_crf",
           "oracle_gat_crf"]  # fmt: skip
GNN_METHODS = [m for m in METHODS if m not in ("cam", "detect")]


def job(rule: str, **wildcards) -> str:
    """A planned job as ``rule[key=value, ...]`` (wildcards sorted), or ``rule``."""
    if not wildcards:
        return rule
    return f"{rule}[{', '.join(f'{k}={v}' for k, v in sorted(wildcards.items()))}]"


def parse_plan(output: str) -> list[str]:
    """The jobs of a ``--dry-run``'s output, checked against its "Job stats" table."""
    if "Nothing to be done" in output:
        assert "Job stats" not in output, output
        return []
    jobs = []
    lines = output.splitlines()
    for i, line in enumerate(lines):
        header = re.fullmatch(r"(?:local)?rule (\w+):", line.strip())
        if header is None:
            continue
        wildcards = {}
        for detail in lines[i + 1 :]:
            if not detail.startswith("    "):
                break
            key, _, value = detail.strip().partition(": ")
            if key == "wildcards":
                wildcards = dict(item.split("=", 1) for item in value.split(", "))
        jobs.append(job(header[1], **wildcards))
    table = re.search(r"Job stats:\njob +count\n[- ]+\n(.*?)\ntotal +(\d+)\n", output, re.S)
    assert table is not None, output
    stats = Counter()
    for row in table[1].splitlines():
        rule, count = row.split()
        stats[rule] = int(count)
    assert Counter(j.split("[")[0] for j in jobs) == stats, output
    assert len(jobs) == int(table[2]) == len(set(jobs)), output
    return jobs


def dry_run(workdir: Path, *configfiles: Path, snakefile: Path = REPO / "Snakefile") -> list[str]:
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(snakefile),
        "--directory", str(workdir), "--cores", "2", "--dry-run",
        "--configfile", str(TINY), *map(str, configfiles),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return parse_plan(result.stdout + result.stderr)


def extra_config(tmp_path: Path, settings: dict) -> Path:
    """A config file merged last, key by key (``--config`` would replace a whole section)."""
    path = tmp_path / "change.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def assert_plan(planned: list[str], expected: set[str]) -> None:
    assert set(planned) == expected, (
        f"planned but not expected: {sorted(set(planned) - expected)}\n"
        f"expected but not planned: {sorted(expected - set(planned))}"
    )


# Segmentation networks of the default `segment.methods` (Yi et al. Table V).
NETWORKS = ["cam", "detect", "detect_gat_crf", "oracle_gat_crf"]


def downstream_of_pseudo_labels(changed=METHODS) -> set[str]:
    """Jobs after the pseudo labels of ``changed`` methods: scoring, the networks trained on
    them, and the tables, figure and report."""
    networks = [m for m in NETWORKS if m in changed]
    return {
        "evaluate_pseudo_labels",  # one job scores every method
        *(job("train_segmentation", method=m, repeat=0) for m in networks),
        *(job("evaluate_segmentation", method=m, repeat=0) for m in networks),
        "gather_segmentation_metrics",
        "qualitative_figure",
        "report",
        "all",
    }


AFTER_CORRECTION = {
    *(job("correct_labels", run=r, shard=0) for r in RUNS),
    *(job("pseudo_labels", method=m, shard=0) for m in GNN_METHODS),
    *downstream_of_pseudo_labels(GNN_METHODS),
}


def test_parse_plan_reads_jobs_and_checks_the_table():
    output = """Building DAG of jobs...
Job stats:
job               count
--------------  -------
pseudo_labels         1
all                   1
total                 2

[Mon Nov 23 01:18:26 2026]
rule pseudo_labels:
    output: results/pseudo_labels/cam/shard0
    wildcards: shard=0, method=cam
    resources: tmpdir=/tmp

[Mon Nov 23 01:18:26 2026]
localrule all:
    input: results/report.md
"""
    assert parse_plan(output) == ["pseudo_labels[method=cam, shard=0]", "all"]
    with pytest.raises(AssertionError):
        parse_plan(output.replace("all                   1", "all                   2"))
    assert parse_plan("Building DAG of jobs...\nNothing to be done (all requested files...)") == []


def test_nothing_changed_plans_nothing(finished_run):
    assert dry_run(finished_run) == []


def test_gnn_setting_reruns_only_correction_and_what_follows(finished_run, tmp_path):
    planned = dry_run(finished_run, extra_config(tmp_path, {"correct": {"epochs": 7}}))
    # Not generate_dataset, build_manifest, train_classifier, export_cams, train_clean_model,
    # score_pixels, select_theta, build_graphs, the pseudo labels of cam/detect, dc_only.
    assert_plan(planned, AFTER_CORRECTION)


def test_cam_scales_rerun_cams_and_what_follows_but_not_the_classifier(finished_run, tmp_path):
    planned = dry_run(finished_run, extra_config(tmp_path, {"cam": {"scales": [1.0]}}))
    expected = {
        job("export_cams", shard=0),
        job("score_pixels", shard=0),
        "select_theta",
        "cam_threshold_sweep",
        *AFTER_CORRECTION,
        *(job("pseudo_labels", method=m, shard=0) for m in ("cam", "detect")),
        *downstream_of_pseudo_labels(),
    }
    # Not generate_dataset, build_manifest, train_classifier, train_clean_model, build_graphs.
    assert_plan(planned, expected)


def copy_repository(destination: Path) -> Path:
    """The working tree's files (tracked and untracked, not ignored), with their mtimes."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    )  # fmt: skip
    for name in listing.stdout.decode().split("\0"):
        source = REPO / name
        if name and source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


# Edited file -> the jobs it must rerun. A rule's `code` param hashes its script, the module the
# method registry names for the job's method, and the package modules they import, transitively
# (workflow/rules/common.smk). The pseudo-label stage does not import the GNN
# (tests/test_light_imports.py), so a GNN edit leaves the cam and detect pseudo labels alone, and
# nothing upstream of correction reruns; an edit of the corrected methods' module reruns their
# label maps and what follows, not the correction runs.
CODE_EDITS = {
    "pixelnoise/gnn/train.py": AFTER_CORRECTION,
    "pixelnoise/stages/build_graphs.py": {job("build_graphs", shard=0), *AFTER_CORRECTION},
    "pixelnoise/corrected_labels.py": {
        *(job("pseudo_labels", method=m, shard=0) for m in GNN_METHODS),
        *downstream_of_pseudo_labels(GNN_METHODS),
    },
    "pixelnoise/__main__.py": set(),  # the CLI: no rule imports it
}


@pytest.mark.parametrize("edited", list(CODE_EDITS))
def test_editing_package_code_reruns_its_stage_and_what_follows(finished_run, tmp_path, edited):
    repository = copy_repository(tmp_path / "repository")
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, symlinks=True)  # copy2: mtimes and .snakemake metadata
    snakefile = repository / "Snakefile"
    assert dry_run(run, snakefile=snakefile) == []  # the copy itself is no change
    with open(repository / edited, "a") as source:
        source.write("# an edit\n")
    assert_plan(dry_run(run, snakefile=snakefile), CODE_EDITS[edited])
    assert (REPO / edited).read_text() != (repository / edited).read_text()


def test_an_image_edited_in_place_reruns_the_manifest(tmp_path, finished_run):
    """Images and masks are tracked by size and modification time (workflow/rules/common.smk)."""
    data = tmp_path / "data"
    shutil.copytree(finished_run / "results/data/synthetic", data)  # copy2 keeps the mtimes
    config = extra_config(tmp_path, {"dataset": {"kind": "voc", "root": str(data)}})
    run = tmp_path / "run"
    manifest = "results/data/manifest.csv"
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(run), "--cores", "2", manifest,
        "--configfile", str(TINY), str(config),
    ]  # fmt: skip
    subprocess.run(command, capture_output=True, check=True, timeout=300)
    assert parse_plan(_dry(command)) == []
    image = next((data / "JPEGImages").glob("*.jpg"))
    image.write_bytes(image.read_bytes())  # same content, new mtime: a careful no-op edit
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
    assert parse_plan(_dry(command)) == ["build_manifest"]
    mask = next((data / "SegmentationClass").glob("*.png"))
    subprocess.run(command, capture_output=True, check=True, timeout=300)
    mask.write_bytes(mask.read_bytes() + b"\0")  # a changed size
    assert parse_plan(_dry(command)) == ["build_manifest"]


def _dry(command: list[str]) -> str:
    result = subprocess.run([*command[:-3], "--dry-run", *command[-3:]], capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr
