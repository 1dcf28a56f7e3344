"""How long each method family took: the run's benchmark rows (one per job, from
``results/benchmarks/<rule>/<job>.tsv``) summed per family of the method registry.

A job that makes one method's output (a correction run, a pseudo-label method, a network's
training or evaluation) counts for that method's registry ``family``; so the correction runs and
label maps a network is made from count for their own family, e.g. ``mllc_yi``'s training for
``mllc`` and the ``detect_gat_crf`` labels it learns from for ``yi``. A job of the pipeline
itself (classifier, CAMs, clean model, graphs, tables) counts for a family when only that
family's methods in the run consume what it makes (Fan et al.'s second classifier, WSGCN's pixel
grids), and once, as ``shared``, otherwise. Benchmark files an earlier configuration left in the
same directory (a method, or an artifact, no listed method needs) count apart.

>>> from pixelnoise.methods import CHECKPOINT, REGISTRY
>>> methods = run_methods(REGISTRY, {CHECKPOINT: ["wsgcn_crf"]})
>>> [job_family(rule, job, methods) for rule, job in [("correct_labels", "wsgcn/shard0"),
...     ("build_grid_graphs", "shard0"), ("build_graphs", "shard0"), ("report", "")]]
['wsgcn', 'not listed in this config', 'wsgcn', 'shared']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from pixelnoise.methods.registry import (
    CAM_SCALES,
    CHECKPOINT,
    LABEL_MAPS,
    NODE_PROBABILITIES,
    Method,
    Registry,
    scale_cams,
)

SHARED = "shared"
NOT_LISTED = "not listed in this config"
#: Rules whose jobs make one method's output, named by the job's first path part.
METHOD_RULES = {
    "correct_labels": NODE_PROBABILITIES,
    "pseudo_labels": LABEL_MAPS,
    "train_segmentation": CHECKPOINT,
    "evaluate_segmentation": CHECKPOINT,
}


def made_by(rule: str, job: str) -> set[str]:
    """The artifacts (registry names, see :mod:`pixelnoise.methods.registry`) a job of one of
    the pipeline's own rules makes; empty for rules whose output every method needs or that
    only summarise (they count as shared)."""
    if rule == "export_scale_cams":  # job: <classifier>/<tag>/shard<k>
        classifier, tag = job.split("/")[:2]
        return {scale_cams(classifier, tag)}
    if rule == "train_second_classifier":
        return {scale_cams("second", tag) for tag in CAM_SCALES}
    return {
        "export_cams": {"cams"},
        "build_graphs": {"graphs"},
        "build_grid_graphs": {"grid_graphs"},
        "score_pixels": {"losses"},
        "select_theta": {"theta"},
    }.get(rule, set())


def run_methods(registry: Registry, listed: Mapping[str, Iterable[str]]) -> list[Method]:
    """The methods a run lists (``{produces: names}``) and every method they are made from."""
    found: dict[str, Method] = {}
    for produces, names in listed.items():
        for name in names:
            for method in registry.lineage(name, produces):
                found.setdefault(method.key, method)
    return list(found.values())


def job_family(rule: str, job: str, methods: list[Method]) -> str:
    """The family one job counts for among the run's ``methods`` (see the module docstring)."""
    if rule in METHOD_RULES:
        name = job.split("/")[0]
        key = f"{METHOD_RULES[rule]}:{name}"
        owner = next((m for m in methods if m.key == key), None)
        # A benchmark file left by an earlier configuration in the same directory.
        return owner.family if owner is not None else NOT_LISTED
    artifacts = made_by(rule, job)
    families = {m.family for m in methods if artifacts & set(m.consumes)}
    if artifacts and not families:
        return NOT_LISTED
    return families.pop() if len(families) == 1 else SHARED


def family_times(benchmarks: pd.DataFrame, methods: list[Method]) -> pd.DataFrame:
    """Jobs, summed wall seconds and summed CPU seconds per family (first-seen order, shared
    last), from :func:`pixelnoise.stages.report.gather_benchmarks`'s rows."""
    columns = ["family", "jobs", "seconds", "cpu_seconds"]
    if benchmarks.empty:
        return pd.DataFrame(columns=columns)
    family = [job_family(r.rule, r.job, methods) for r in benchmarks.itertuples()]
    table = (
        benchmarks.assign(family=family)
        .groupby("family", sort=False)
        .agg(
            jobs=("seconds", "size"),
            seconds=("seconds", "sum"),
            cpu_seconds=("cpu_seconds", "sum"),
        )
        .reset_index()
    )
    last = {SHARED: 1, NOT_LISTED: 2}
    order = table["family"].map(lambda f: last.get(f, 0))
    return table.iloc[order.argsort(kind="stable")].reset_index(drop=True)[columns]
