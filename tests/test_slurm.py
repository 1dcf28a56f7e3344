"""SLURM: the profile asks for what the rules need, and a real cluster reproduces a local run.

The slow test installs Debian's SLURM packages when they are missing (root and apt-get
needed, else it is skipped), starts a one-node cluster on localhost with
tests/slurm/start_cluster.sh, runs the tiny config through profiles/slurm (with
tests/slurm/profile on top: the node has no GPU and no accounting database) and stops the
daemons it started, also when the test fails.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yte
from workflow_runner import REPO, SNAKEMAKE, snakemake

SLURM_PROFILE = REPO / "profiles/slurm"
TEST_PROFILE = REPO / "tests/slurm/profile"
CLUSTER_SCRIPTS = REPO / "tests/slurm"
SLURM_PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
SLURM_PROGRAMS = ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "munged")
SITE_ENV = (
    "PIXELNOISE_SLURM_PARTITION",
    "PIXELNOISE_SLURM_GPU_PARTITION",
    "PIXELNOISE_SLURM_ACCOUNT",
    "PIXELNOISE_SLURM_GPU_MODEL",
)
# The Snakefile's localrules: the target and two gathers of small CSVs, not worth a queue wait.
LOCAL_RULES = ("all", "gather_segmentation_metrics", "report")
METRICS = ("results/metrics/pseudo_labels.csv", "results/metrics/segmentation.csv")


def load_profile(directory: Path) -> dict:
    with open(directory / "config.yaml") as stream:
        return yte.process_yaml(stream, require_use_yte=True)


def rules_declaring_gpu() -> set[str]:
    rules = set()
    for path in (REPO / "workflow/rules").glob("*.smk"):
        parts = re.split(r"^\s*rule (\w+):", path.read_text(), flags=re.M)
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if re.search(r"^\s*gpu\s*=\s*1\s*,?\s*$", body, flags=re.M):
                rules.add(name)
    return rules


@pytest.fixture
def site_env_cleared(monkeypatch):
    for name in SITE_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_slurm_profile_gives_every_gpu_rule_a_gpu_and_matching_cpus(site_env_cleared):
    profile = load_profile(SLURM_PROFILE)
    assert profile["executor"] == "slurm"
    assert {"runtime", "mem_mb"} <= set(profile["default-resources"])
    gpu_rules = rules_declaring_gpu()
    assert len(gpu_rules) >= 8, gpu_rules
    resources, threads = profile["set-resources"], profile["set-threads"]
    assert {r for r, res in resources.items() if res.get("gpu") == 1} == gpu_rules
    for rule, res in resources.items():
        assert {"runtime", "mem_mb", "cpus_per_task"} <= set(res), rule
        # What SLURM allocates (cpus_per_task) is what the job uses (threads).
        assert threads[rule] == res["cpus_per_task"], rule
        assert threads[rule] <= profile["cores"], rule
    # Without site settings nothing names a partition, account or GPU model.
    assert not {"slurm_partition", "slurm_account"} & set(profile["default-resources"])
    assert not any({"slurm_partition", "gpu_model"} & set(r) for r in resources.values())


def test_slurm_profile_takes_site_settings_from_the_environment(site_env_cleared):
    site_env_cleared.setenv("PIXELNOISE_SLURM_PARTITION", "cpu")
    site_env_cleared.setenv("PIXELNOISE_SLURM_GPU_PARTITION", "gpu")
    site_env_cleared.setenv("PIXELNOISE_SLURM_ACCOUNT", "proj42")
    site_env_cleared.setenv("PIXELNOISE_SLURM_GPU_MODEL", "a100")
    profile = load_profile(SLURM_PROFILE)
    defaults, gpu_rules = profile["default-resources"], rules_declaring_gpu()
    assert (defaults["slurm_partition"], defaults["slurm_account"]) == ("cpu", "proj42")
    for rule, res in profile["set-resources"].items():
        if rule in gpu_rules:
            assert (res["slurm_partition"], res["gpu_model"]) == ("gpu", "a100"), rule
        else:
            assert "slurm_partition" not in res and "gpu_model" not in res, rule


def test_local_test_profile_overrides_every_gpu_request_and_thread_count(site_env_cleared):
    real, test = load_profile(SLURM_PROFILE), load_profile(TEST_PROFILE)
    assert set(test["set-threads"]) == set(real["set-threads"])
    assert set(test["set-resources"]) == set(real["set-resources"])
    for rule, res in test["set-resources"].items():
        assert res.get("gpu", 0) == 0, rule
        assert res["cpus_per_task"] == test["set-threads"][rule], rule
    assert test["slurm-status-command"] == "squeue"


def test_slurm_profile_dry_run(tmp_path, site_env_cleared):
    """The documented command: Snakemake and the plugin accept the profile, and GPU jobs ask
    for a GPU and 8 CPUs and use 8 threads (profiles/default, with cores: 2, is not read)."""
    command = [
        *SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--workflow-profile",
        str(SLURM_PROFILE),
        "--dry-run",
        "--configfile",
        str(REPO / "tests/configs/tiny.yaml"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"workflow specific profile {SLURM_PROFILE}" in result.stderr
    assert "profiles/default" not in result.stderr
    block = result.stdout[result.stdout.index("rule train_classifier:") :].split("\n\n")[0]
    assert re.search(r"threads: 8\n", block), block
    assert re.search(r"resources: .*\bruntime=720\b.*\bgpu=1\b.*\bcpus_per_task=8\b", block), block


# --- a real cluster -----------------------------------------------------------------------


def install_slurm() -> None:
    """Debian's SLURM packages, installed when a program is missing (or the test skips)."""
    if all(shutil.which(program) for program in SLURM_PROGRAMS):
        return
    if os.geteuid() != 0:
        pytest.skip(f"SLURM is not installed and installing {' '.join(SLURM_PACKAGES)} needs root")
    if not shutil.which("apt-get"):
        pytest.skip("SLURM is not installed and apt-get is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *SLURM_PACKAGES]
    result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=600)
    if result.returncode != 0:  # perhaps stale package lists
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, timeout=600)
        result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=600)
    if result.returncode != 0:
        pytest.skip(f"apt-get install {' '.join(SLURM_PACKAGES)} failed:\n{result.stderr[-2000:]}")
    missing = [program for program in SLURM_PROGRAMS if not shutil.which(program)]
    if missing:
        pytest.skip(f"installed {' '.join(SLURM_PACKAGES)} but {missing} are not on PATH")


def cluster_script(name: str, directory: Path) -> subprocess.CompletedProcess:
    """Run tests/slurm/<name> for the cluster whose state is in ``directory``."""
    env = {**os.environ, "PIXELNOISE_SLURM_DIR": str(directory)}
    return subprocess.run(
        [str(CLUSTER_SCRIPTS / name)], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A one-node cluster started for this module and stopped after it (also on failure)."""
    started = time.monotonic()
    install_slurm()
    directory = tmp_path_factory.mktemp("slurm")  # state, daemon logs and pid files
    start = cluster_script("start_cluster.sh", directory)
    if start.returncode == 3:  # someone else's cluster: use nothing, stop nothing
        pytest.skip(f"a SLURM cluster not started by this test is running: {start.stderr}")
    try:
        assert start.returncode == 0, (
            f"start_cluster.sh failed ({start.returncode}):\n{start.stdout}\n{start.stderr}"
        )
        print(f"\nSLURM installed and started in {time.monotonic() - started:.0f} s")
        yield directory
    finally:
        stop = cluster_script("stop_cluster.sh", directory)
        assert stop.returncode == 0, f"stop_cluster.sh failed:\n{stop.stderr}"


def local_jobs(run: Path) -> list[str]:
    """The rule of every job of a finished run (each job writes one benchmark file)."""
    benchmarks = run / "results/benchmarks"
    return sorted(
        path.relative_to(benchmarks).parts[0].removesuffix(".tsv")
        for path in benchmarks.rglob("*.tsv")
    )


@pytest.mark.slow
def test_workflow_on_slurm_matches_the_local_run(slurm_cluster, finished_run, tmp_path):
    workdir = tmp_path / "slurm_run"
    started = time.monotonic()
    result = snakemake(
        workdir,
        *("--profile", str(SLURM_PROFILE), "--profile", str(TEST_PROFILE)),
        *("--workflow-profile", "none"),  # else profiles/default would override the two
        timeout=3600,
    )
    print(f"\nworkflow through SLURM: {time.monotonic() - started:.0f} s")
    log = result.stdout + result.stderr

    # Every job but those of the Snakefile's localrules went through SLURM and left its log.
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: (.+?)\)\.?$", log, re.M)
    slurm_ids = [int(job_id) for job_id, _ in submitted]
    rules = [re.search(r"/rule_(\w+)/", path)[1] for _, path in submitted]
    ran_here = re.findall(r"^localrule (\w+):$", log, re.M)
    assert sorted(ran_here) == sorted(LOCAL_RULES), log[-4000:]
    assert sorted(rules + ran_here) == sorted([*local_jobs(finished_run), "all"]), log[-4000:]
    assert len(set(slurm_ids)) == len(slurm_ids)
    for _, path in submitted:
        assert Path(path).is_file() and Path(path).is_relative_to(workdir / ".snakemake"), path
    # SLURM itself saw the last one finish (it keeps finished jobs for MinJobAge=300 s).
    job = subprocess.run(
        ["scontrol", "show", "job", "--oneliner", str(max(slurm_ids))],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "JobState=COMPLETED" in job.stdout, job.stdout + job.stderr

    for metrics in METRICS:
        local = (finished_run / metrics).read_text()
        slurm = (workdir / metrics).read_text()
        diff = "".join(
            difflib.unified_diff(
                local.splitlines(True), slurm.splitlines(True), "local " + metrics, "slurm"
            )
        )
        assert slurm == local, f"{metrics} differs between the local and the SLURM run:\n{diff}"
