# pixelnoise: CAM pseudo-labels as noisy labels, detected and corrected on superpixel graphs.
# Run from the repository root: `snakemake --cores 2` (or `make run`); other datasets via
# `--configfile config/msrc21.yaml`. Stages and their artifacts are listed in README.md.

import os

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config/config.yaml")


report: "workflow/report/workflow.rst"


# A mistyped key or a conflict in split.strong first, on one line, then the full schema check.
from pixelnoise.config import strong_split_conflict, unknown_key

if (problem := unknown_key(config) or strong_split_conflict(config)) is not None:
    raise ValueError(problem)
validate(config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"))


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/cam.smk"
include: "workflow/rules/detect.smk"
include: "workflow/rules/correct.smk"
include: "workflow/rules/segment.smk"
include: "workflow/rules/evaluate.smk"


# Cheap gathering steps run in the main process, not as cluster jobs.
localrules:
    all,
    gather_segmentation_metrics,
    report,


rule all:
    input:
        "results/report.md",
        "results/metrics/pseudo_labels.csv",
        "results/metrics/segmentation.csv",
    default_target: True
