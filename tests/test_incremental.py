"""Incremental reruns: what Snakemake plans after an edit to a finished tiny run.

The edit matrix: for each edit of the package's code, the config or the dataset
(pixelnoise/replan.py), the set of jobs a dry run plans equals the set stated in ``EXPECTED``.
README.md's table "what reruns when" is generated from it (``python tests/test_incremental.py``)
and checked against it. Code edits go to a copy of the repository, each undone exactly after
its dry run, so one copy serves every edit.
"""

import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from pixelnoise.data.fingerprints import DatasetFingerprints
from pixelnoise.replan import (
    COMMENTS,
    CONFIG_EDITS,
    DATA_EDITS,
    copy_repository,
    dry_run,
    edit_plans,
    job,
    parse_plan,
)

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests/configs/tiny.yaml"
SNAKEFILE = REPO / "Snakefile"

RUNS = ["camseeds_gat", "detect_gat", "detect_gcn", "oracle_gat"]
METHODS = ["cam", "detect", "camseeds_gat", "detect_gat", "detect_gcn", "detect_gat_crf",
           "oracle_gat_crf"]  # fmt: skip
GNN_METHODS = [m for m in METHODS if m not in ("cam", "detect")]
CRF_METHODS = ["detect_gat_crf", "oracle_gat_crf"]
# Segmentation networks of the default `segment.methods` (Yi et al. Table V).
NETWORKS = ["cam", "detect", "detect_gat_crf", "oracle_gat_crf"]


def plan(workdir: Path, *configfiles: Path, snakefile: Path = SNAKEFILE) -> set[str]:
    return set(dry_run(snakefile, workdir, [TINY, *configfiles]))


def extra_config(tmp_path: Path, settings: dict, name: str = "change.yaml") -> Path:
    """A config file merged last, key by key (``--config`` would replace a whole section)."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump(settings))
    return path


def assert_plan(planned: set[str], expected: set[str], edit: str = "") -> None:
    assert planned == expected, (
        f"{edit}\nplanned but not expected: {sorted(planned - expected)}\n"
        f"expected but not planned: {sorted(expected - planned)}"
    )


# --- the tiny run's jobs, in groups ---------------------------------------------------------
def pseudo_labels(methods) -> set[str]:
    return {job("pseudo_labels", method=m, shard=0) for m in methods}


def evaluations(names) -> set[str]:
    return {job("evaluate_segmentation", method=m, repeat=0) for m in names}


def networks(names) -> set[str]:
    """Training and evaluating these networks."""
    names = list(names)
    return {*(job("train_segmentation", method=m, repeat=0) for m in names), *evaluations(names)}


DC_ONLY_EVALUATION = job("evaluate_segmentation", method="dc_only", repeat=0)
TABLES = {"gather_segmentation_metrics", "qualitative_figure", "report", "all"}


def downstream_of_pseudo_labels(changed=METHODS) -> set[str]:
    """Jobs after the pseudo labels of ``changed`` methods: scoring, the networks trained on
    them, and the tables, figure and report."""
    return {"evaluate_pseudo_labels", *networks(m for m in NETWORKS if m in changed), *TABLES}


CORRECTIONS = {job("correct_labels", run=r, shard=0) for r in RUNS}
AFTER_CORRECTION = {*CORRECTIONS, *pseudo_labels(GNN_METHODS),
                    *downstream_of_pseudo_labels(GNN_METHODS)}  # fmt: skip
AFTER_THETA = {"select_theta", *CORRECTIONS, *pseudo_labels(METHODS[1:]),
               *downstream_of_pseudo_labels(METHODS[1:])}  # fmt: skip
# Every job that applies τ_bg, and what follows: with `cam.tau_bg: auto` they read its choice.
AFTER_TAU_BG = {
    job("score_pixels", shard=0),
    *AFTER_THETA,
    *pseudo_labels(METHODS),
    *downstream_of_pseudo_labels(METHODS),
}
AFTER_CAMS = {
    job("export_cams", shard=0),
    "choose_tau_bg",  # τ_bg chosen on D_c's CAMs
    "cam_threshold_sweep",
    *AFTER_TAU_BG,
}
AFTER_CLEAN_MODEL = {
    "train_clean_model",
    job("score_pixels", shard=0),
    job("build_graphs", shard=0),
    *AFTER_THETA,
    *networks(NETWORKS),  # they start from the clean model (segment.network.init)
    DC_ONLY_EVALUATION,
}
EVERYTHING_READ = {  # every job but the dataset's generation and the manifest
    "train_classifier",
    job("build_graphs", shard=0),
    *AFTER_CAMS,
    *AFTER_CLEAN_MODEL,
}
EVERYTHING = {"generate_dataset", "build_manifest", *EVERYTHING_READ}
VOC_EVERYTHING = EVERYTHING - {"generate_dataset"}
NOTHING: set[str] = set()
REPORT = {"report", "all"}  # the report states the whole configuration


# What each edit of the matrix (pixelnoise/replan.py) must plan on the tiny run.
EXPECTED = {
    COMMENTS: NOTHING,
    # Only the label maps of the GNN methods (one module, corrected_labels, applies the CRF
    # where the method asks for it) and prediction (evaluation may refine with the CRF).
    "`pixelnoise/crf.py`": {
        *pseudo_labels(GNN_METHODS),
        *downstream_of_pseudo_labels(GNN_METHODS),
        *evaluations(NETWORKS),
        DC_ONLY_EVALUATION,
    },
    "`pixelnoise/gnn/layers.py`": AFTER_CORRECTION,
    "`pixelnoise/mllc.py`": NOTHING,  # no MLLC method in the run
    "`pixelnoise/estimates.py`": NOTHING,  # no Fan et al. method
    "`pixelnoise/wsgcn.py`": NOTHING,  # no WSGCN method
    # θ, the detect labels, and every correction run (supervision.py declares the detected
    # source, so camseeds_gat's run imports it too).
    "`pixelnoise/detect.py`": AFTER_THETA,
    "`pixelnoise/graphs.py`": {job("build_graphs", shard=0), *AFTER_CORRECTION},
    "`pixelnoise/cam.py`": AFTER_CAMS,
    "`pixelnoise/models/deeplab.py`": EVERYTHING_READ,  # every network loads through it
    "`pixelnoise/data/synthetic.py`": EVERYTHING,
    "`seed`": EVERYTHING_READ,  # the classifier's and the clean model's seed
    "`dataset.synthetic.n_val`": EVERYTHING,
    "`split.seed`": EVERYTHING - {"generate_dataset"},
    "`classifier.epochs`": {"train_classifier", *AFTER_CAMS},
    "`second_classifier.epochs`": REPORT,  # no Fan et al. method
    # From auto to a fixed value: applied where CAM labels are read, not the CAMs themselves,
    # nor the weak-set τ sweep (an evaluation); no choice to make any more.
    "`cam.tau_bg`": AFTER_TAU_BG,
    # auto chooses among the sweep, so the choice and all that applies it; the weak-set sweep.
    "`cam.tau_bg_sweep`": {"choose_tau_bg", "cam_threshold_sweep", *AFTER_TAU_BG},
    "`clean_model.epochs`": AFTER_CLEAN_MODEL,
    # θ's readers: not camseeds_gat (CAM seeds, no detection), unlike detect.py's code above.
    "`detect.min_accuracy`": AFTER_THETA
    - {job("correct_labels", run="camseeds_gat", shard=0), *pseudo_labels(["camseeds_gat"])},
    "`graph.n_segments`": {job("build_graphs", shard=0), *AFTER_CORRECTION},
    "`correct.epochs`": AFTER_CORRECTION,
    "`grid_graph.stride`": REPORT,  # no grid method
    "`wsgcn.steps`": REPORT,
    "`fan.t_fg`": REPORT,
    "`mllc.ema`": REPORT,
    "`crf.iterations`": {*pseudo_labels(CRF_METHODS), *downstream_of_pseudo_labels(CRF_METHODS)},
    "`segment.network.epochs`": {*networks(NETWORKS), *TABLES},
    "`device`": REPORT,
    # The dataset read as a VOC-style tree (dataset.kind: voc), files edited in place:
    "a val mask": {
        *evaluations(NETWORKS),
        DC_ONLY_EVALUATION,
        "gather_segmentation_metrics",
        "report",
        "all",
    },
    # The clean model, and τ_bg's choice on D_c with all that applies it.
    "a D_c mask": {*AFTER_CLEAN_MODEL, "choose_tau_bg", *AFTER_TAU_BG},
    # Read by evaluation and the oracle correction only (an upper bound, flagged).
    "a weak mask": {
        "cam_threshold_sweep",
        "evaluate_pseudo_labels",
        "qualitative_figure",
        job("correct_labels", run="oracle_gat", shard=0),
        *pseudo_labels(["oracle_gat_crf"]),
        *networks(["oracle_gat_crf"]),
        *TABLES,
    },
    # The classifier reads every train image; the clean model D_c's only.
    "a weak image": VOC_EVERYTHING - {"build_manifest", "train_clean_model", DC_ONLY_EVALUATION},
    "the labels CSV": VOC_EVERYTHING,
}


# --- dry runs --------------------------------------------------------------------------------
def test_parse_plan_reads_jobs_and_benchmarks_and_checks_the_table():
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
    benchmark: results/benchmarks/pseudo_labels/cam/shard0.tsv
    resources: tmpdir=/tmp

[Mon Nov 23 01:18:26 2026]
localrule all:
    input: results/report.md
"""
    assert parse_plan(output) == {
        "pseudo_labels[method=cam, shard=0]": "results/benchmarks/pseudo_labels/cam/shard0.tsv",
        "all": None,
    }
    with pytest.raises(ValueError):
        parse_plan(output.replace("all                   1", "all                   2"))
    assert parse_plan("Building DAG of jobs...\nNothing to be done (all requested files...)") == {}


@pytest.mark.slow
def test_nothing_changed_plans_nothing(finished_run):
    assert plan(finished_run) == set()


def check(plans, kinds: set[str]) -> None:
    seen = set()
    for edit, planned in plans:
        assert edit in EXPECTED, f"{edit}: state what it plans ({sorted(planned)})"
        assert_plan(set(planned), EXPECTED[edit], edit)
        seen.add(edit)
    assert seen == {e for e in EXPECTED if kind_of(e) in kinds}


def kind_of(edit: str) -> str:
    if edit in DATA_EDITS:
        return "data"
    return "config" if edit.strip("`") in CONFIG_EDITS else "code"


@pytest.mark.slow
def test_code_and_config_edits(finished_run, tmp_path):
    repository = copy_repository(REPO, tmp_path / "repository")
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, symlinks=True)  # copy2: mtimes and .snakemake metadata
    snakefile = repository / "Snakefile"
    assert plan(run, snakefile=snakefile) == set()  # the copy itself is no change
    check(edit_plans(repository, run, [TINY], tmp_path, kinds=("code", "config")),
          {"code", "config"})  # fmt: skip
    assert plan(run, snakefile=snakefile) == set()  # every edit undone


@pytest.fixture(scope="module")
def voc_run(finished_run, tmp_path_factory):
    """The finished tiny run with its dataset read as a VOC-style tree (``dataset.kind: voc``):
    ``--touch`` records the new settings without recomputing anything (the results are the
    same: the files are), as after an upgrade of the rerun triggers (README.md)."""
    base = tmp_path_factory.mktemp("voc")
    data = base / "data"
    shutil.copytree(finished_run / "results/data/synthetic", data)
    run = base / "run"
    shutil.copytree(finished_run, run, symlinks=True)
    config = extra_config(base, {"dataset": {"kind": "voc", "root": str(data)}}, "voc.yaml")
    from workflow_runner import snakemake

    snakemake(run, "--touch", configfiles=(TINY, config))
    assert plan(run, config) == set()
    return run, data, config


@pytest.mark.slow
def test_data_edits(voc_run, tmp_path):
    run, data, config = voc_run
    fingerprints = DatasetFingerprints(
        {"root": str(data), "train_split": "train", "val_split": "val"},
        {"seed": 0, **yaml.safe_load(TINY.read_text())["split"]},
        shards=1,
    )
    check(edit_plans(REPO, run, [TINY, config], tmp_path, fingerprints, kinds=("data",)), {"data"})
    assert plan(run, config) == set()


# --- README.md: the matrix as a table ------------------------------------------------------
ORDER = ["generate_dataset", "build_manifest", "train_classifier", "export_cams", "choose_tau_bg",
         "train_clean_model", "score_pixels", "select_theta", "cam_threshold_sweep",
         "build_graphs", "correct_labels", "pseudo_labels", "evaluate_pseudo_labels",
         "train_segmentation", "evaluate_segmentation", "gather_segmentation_metrics",
         "qualitative_figure", "report", "all"]  # fmt: skip
BEGIN, END = "<!-- rerun matrix: begin -->", "<!-- rerun matrix: end -->"


def describe(jobs: set[str], total: int) -> str:
    if not jobs:
        return "nothing"
    counts = Counter(j.split("[")[0] for j in jobs)
    rules = [f"{r} ×{counts[r]}" if counts[r] > 1 else r for r in ORDER if r in counts]
    return f"{len(jobs)} of {total}: " + ", ".join(rules)


def readme_table() -> str:
    rows = ["| edit (tiny run) | what reruns |", "|---|---|"]
    for edit, expected in EXPECTED.items():
        total = len(VOC_EVERYTHING if edit in DATA_EDITS else EVERYTHING)
        rows.append(f"| {edit} | {describe(expected, total)} |")
    return "\n".join([BEGIN, *rows, END])


def test_readme_table_is_the_matrix():
    readme = (REPO / "README.md").read_text()
    assert BEGIN in readme and END in readme, "README.md lacks the rerun matrix"
    found = readme[readme.index(BEGIN) : readme.index(END) + len(END)]
    assert found == readme_table(), "regenerate it: python tests/test_incremental.py"


if __name__ == "__main__":
    sys.stdout.write(readme_table() + "\n")
