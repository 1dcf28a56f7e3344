"""Stage: ``results/report.md``, the run summarised from the CSVs the other stages wrote."""

from __future__ import annotations

import datetime
import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pixelnoise.atomic import atomic_path, write_text
from pixelnoise.cam_errors import cam_error_sentence
from pixelnoise.comparison import headline, league_table, recommendation, side_by_side
from pixelnoise.config import load_config
from pixelnoise.data.manifest import read_manifest
from pixelnoise.data.voc import VocDataset
from pixelnoise.family_time import NOT_LISTED, SHARED, family_times, run_methods
from pixelnoise.methods import CHECKPOINT, LABEL_MAPS, REGISTRY, wsgcn
from pixelnoise.methods.upper_bounds import left_out_note
from pixelnoise.provenance import run_settings, tuned_on_scored_images, weak_keys
from pixelnoise.tau_bg import AUTO, read_choice

SUMMARY_COLUMNS = [
    "method",
    "images",
    "miou",
    "precision",
    "coverage",
    "missed_fg",
    "false_fg",
    "wrong_class",
    "cam_fallbacks",
    "reads_weak_masks",
    "tuned_on_scored_images",
]


SEGMENTATION_COLUMNS = [
    "method",
    "split",
    "images",
    "repeats",
    "miou",
    "miou_std",
    "pixel_acc",
    "trained_on",
    "reads_weak_masks",
]


def config_hash(config: dict) -> str:
    """Short, order-independent fingerprint of the configuration.

    >>> config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    True
    """
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def git_commit(directory: str | Path) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".2f") -> str:
    return frame.to_markdown(index=False, floatfmt=floatfmt)


def gather_benchmarks(benchmark_dir: str | Path) -> pd.DataFrame:
    """One row per job from Snakemake ``benchmark:`` files: rule, job (wildcards), seconds,
    peak RSS (MB), CPU time."""
    rows = []
    # In the order the jobs finished, so the table reads like the pipeline.
    for path in sorted(Path(benchmark_dir).rglob("*.tsv"), key=lambda p: p.stat().st_mtime):
        bench = pd.read_csv(path, sep="\t")
        parts = path.relative_to(benchmark_dir).with_suffix("").parts
        rows.append(
            {
                "rule": parts[0],
                "job": "/".join(parts[1:]),
                "seconds": bench["s"].mean(),
                "max_rss_mb": bench["max_rss"].max(),
                "cpu_seconds": bench["cpu_time"].mean(),
            }
        )
    return pd.DataFrame(rows, columns=["rule", "job", "seconds", "max_rss_mb", "cpu_seconds"])


def rule_timings(benchmarks: pd.DataFrame) -> pd.DataFrame:
    """Wall time (summed over a rule's jobs) and peak memory per rule."""
    return (
        benchmarks.groupby("rule", sort=False)
        .agg(jobs=("seconds", "size"), seconds=("seconds", "sum"), max_rss_mb=("max_rss_mb", "max"))
        .reset_index()
    )


def write_report(
    *,
    out_path: str,
    inputs: dict,
    config: dict,
    workflow_dir: str | Path,
    benchmarks_path: str | None = None,
    skipped: dict | None = None,
) -> str:
    manifest = read_manifest(inputs["manifest"])
    roles = manifest["role"].value_counts()
    pseudo = pd.read_csv(inputs["pseudo_labels"])
    settings = run_settings(config, load_config())
    pseudo["tuned_on_scored_images"] = [
        tuned_on_scored_images(REGISTRY.get(m, LABEL_MAPS).family, settings)
        for m in pseudo["method"]
    ]
    has_background = VocDataset.from_config(config["dataset"]).classes.background is not None
    tau = TauBg.read(config["cam"]["tau_bg"] if has_background else None, inputs)
    sweep = pd.read_csv(inputs["sweep"])
    history = pd.read_csv(inputs["classifier_history"])
    clean_history = pd.read_csv(inputs["clean_history"])
    theta = json.loads(Path(inputs["theta"]).read_text())
    curve = pd.read_csv(inputs["theta_curve"])
    segmentation = pd.read_csv(inputs["segmentation"])
    benchmarks = gather_benchmarks(Path(out_path).parent / "benchmarks")
    if benchmarks_path:
        with atomic_path(benchmarks_path) as tmp:
            benchmarks.to_csv(tmp, index=False, float_format="%.3f")
    timings = rule_timings(benchmarks)
    families = {m: REGISTRY.get(m, CHECKPOINT).family for m in segmentation["method"]}
    dataset = config["dataset"]
    lines = [
        "# pixelnoise run report",
        "",
        "## What this run shows",
        "",
        recommendation(segmentation),
        cam_error_sentence(pseudo),
        "",
        *(f"- {sentence}" for sentence in headline(segmentation)),
        "",
        "### League table of the segmentation networks (val)",
        "",
        "Mean val mIoU over the repeats (`segment.repeats`), best first, and each network's",
        "difference to the leader and to the network ranked next below it. A difference counts as",
        "larger than the noise (`> noise`) when it exceeds twice its standard error,",
        "2·sqrt(s_a²/n_a + s_b²/n_b) (s: standard deviation over a network's n repeats), roughly a",
        "95 % interval of the difference of two means; a single training measures no spread and",
        "gets no verdict. A network is recommended only when its lead over every other network",
        "exceeds the noise. Upper bounds that read weak masks do not compete.",
        "",
        markdown_table(league_table(segmentation, families)),
        "",
        *family_time_section(benchmarks, families, pseudo),
        "## Run",
        "",
        f"- generated: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"- git commit: {git_commit(workflow_dir)}; config hash: {config_hash(config)}",
        f"- dataset: {dataset['kind']} at `{dataset['root']}`",
        f"- images: D_c (strong) {roles.get('strong', 0)}, D_n (weak) {roles.get('weak', 0)}, "
        f"val {roles.get('val', 0)}",
        f"- classifier: {config['classifier']['backbone']} (output stride "
        f"{config['classifier']['output_stride']}), {len(history)} epochs, final loss "
        f"{history['loss'].iloc[-1]:.4f}",
        f"- CAM: scales {config['cam']['scales']}, flip {config['cam']['flip']}, "
        f"tau_bg {tau.summary()}",
        f"- clean model: {config['clean_model']['backbone']} + {config['clean_model']['head']} "
        f"on D_c, {len(clean_history)} epochs, final loss {clean_history['loss'].iloc[-1]:.4f}",
        f"- graphs: SLIC with {config['graph']['n_segments']} superpixels; GNN backend "
        f"{config['correct']['backend']}, mode {config['correct']['mode']}",
        *left_out_note(skipped or {}),
        "",
        *tuned_settings_section(settings, pseudo, tau),
        "## Pseudo-label quality on the weak set D_n",
        "",
        "mIoU (%) over the pixels a method labels; precision: fraction of labelled pixels that",
        "are right; coverage: fraction of non-void pixels that get a label. Where the wrong",
        "labels are, as fractions of the labelled pixels (datasets with a background class):",
        "missed_fg, an object labelled background; false_fg, background labelled an object;",
        "wrong_class, an object labelled as another. cam_fallbacks: images without any",
        "supervised superpixel, which keep their CAM labels. Rows with reads_weak_masks = True",
        "use ground truth of weak images (oracle upper bounds). Rows with",
        "tuned_on_scored_images = True belong to a family with a setting chosen on these",
        "images' masks (the section on tuned settings names them): mildly optimistic.",
        "",
        markdown_table(pseudo[[c for c in SUMMARY_COLUMNS if c in pseudo]]),
        *unscored_note(pseudo, "weak", "Pseudo-label quality"),
        "",
        *wsgcn_section(pseudo, has_background),
        "## Segmentation network on val",
        "",
        "mIoU (%) and pixel accuracy of the final network trained on D_c + each method's pseudo",
        "labels, next to dc_only (the clean model: D_c alone), as the mean over `repeats`",
        "trainings (seeds seed, seed+1, ...) with the standard deviation of the mIoU. Rows with",
        "reads_weak_masks = True read masks of weak images (upper bounds, not results).",
        "",
        markdown_table(segmentation[[c for c in SEGMENTATION_COLUMNS if c in segmentation]]),
        *unscored_note(segmentation, "val", "The val score"),
        "",
        "### Pseudo labels and the networks trained on them, side by side",
        "",
        "Each method's pseudo-label mIoU on D_n next to its network's val mIoU, and the gain of",
        "the network over the networks trained on CAM labels and on D_c alone.",
        "",
        markdown_table(side_by_side(segmentation, pseudo)),
        "",
        "### Per-class IoU (%) on val",
        "",
        markdown_table(per_class(segmentation)),
        "",
        "## Qualitative results",
        "",
        "Weak train images; columns: image, ground truth, the pseudo labels of each stage, the",
        "segmentation network's prediction (void white).",
        "",
        f"![qualitative grid]({Path(inputs['figure']).relative_to(Path(out_path).parent)})",
        "",
        "## Label-noise detection: theta chosen on D_c",
        "",
        f"theta = {theta['theta']:.4g} (rule: {theta['rule']}, target accuracy "
        f"{theta['min_accuracy']}): kept CAM labels on D_c are {100 * theta['accuracy']:.1f}% "
        f"correct and cover {100 * theta['coverage']:.2f}% of the pixels (measured at this θ).",
        *(["", f"**Warning:** {theta['warning']}."] if theta.get("warning") else []),
        "",
        fallback_sentence(pseudo),
        "",
        "![theta curve](detect/theta_curve.png)",
        "",
        markdown_table(curve.iloc[:: max(1, len(curve) // 10)], floatfmt=".4g"),
        "",
        "### Per-class IoU (%) of the pseudo labels",
        "",
        markdown_table(per_class(pseudo)),
        "",
        "## CAM background threshold sweep on D_n (tau_bg; an evaluation: reads weak masks)",
        "",
        markdown_table(sweep[["tau_bg", "miou", "precision", "coverage"]], floatfmt=".3f"),
        "",
        "## Time and memory per rule",
        "",
        markdown_table(timings) if len(timings) else "(no benchmark files yet)",
        "",
    ]
    text = "\n".join(lines)
    write_text(out_path, text)
    return text


@dataclass
class TauBg:
    """The run's τ_bg: the fixed ``cam.tau_bg``, or ``auto``'s choice on D_c and its curve;
    ``setting`` None: the dataset has no background class (τ_bg unused, nothing chosen)."""

    setting: float | str | None
    choice: dict | None = None
    curve: pd.DataFrame | None = None

    @classmethod
    def read(cls, setting: float | str, inputs: dict) -> TauBg:
        if setting is None or setting != AUTO:
            return cls(setting)
        return cls(setting, read_choice(one_path(inputs, "tau_bg")),
                   pd.read_csv(one_path(inputs, "tau_bg_curve")))  # fmt: skip

    def summary(self) -> str:
        if self.setting is None:
            return "unused (no background class)"
        if self.choice is None:
            return f"{self.setting} (fixed)"
        if self.choice["tau_bg"] is None:
            return "auto: unused (no background class)"
        return f"auto: {self.choice['tau_bg']:g} (chosen on D_c)"

    def lines(self) -> list[str]:
        """The choice and its D_c curve (lines), or the fixed value."""
        if self.setting is None:
            return ["cam.tau_bg is unused: the dataset has no background class, so every pixel "
                    "takes its strongest present class (and auto chooses nothing)."]  # fmt: skip
        if self.choice is None:
            return [f"cam.tau_bg is fixed at {self.setting} by the configuration."]
        if self.choice["tau_bg"] is None:
            return ["cam.tau_bg: auto chose nothing: the dataset has no background class, "
                    "so every pixel takes its strongest present class (τ_bg unused)."]  # fmt: skip
        return [
            f"cam.tau_bg: auto chose **τ_bg = {self.choice['tau_bg']:g}** by the rule "
            f'"{self.choice["rule"]}": CAM-label mIoU {self.choice["miou"]:.2f} on the '
            f"{self.choice['strong_images']} D_c images (`results/cams/tau_bg.json`). The curve "
            "on D_c:",
            "",
            markdown_table(
                self.curve[["tau_bg", "miou", "precision", "coverage"]], floatfmt=".3f"
            ),  # fmt: skip
        ]


def one_path(inputs: dict, name: str) -> str:
    value = inputs.get(name)
    paths = [value] if isinstance(value, str) else list(value or [])
    if len(paths) != 1:
        raise ValueError(f"report: cam.tau_bg is auto but its input {name!r} is {value!r}")
    return str(paths[0])


def tuned_settings_section(settings: list[dict], pseudo: pd.DataFrame, tau: TauBg) -> list[str]:
    """The run's tuned settings with where each was chosen (pixelnoise/provenance.py), the
    τ_bg choice, and which pseudo-label families could have been tuned on the scored images."""
    table = pd.DataFrame(settings)
    table["value"] = [str(v) for v in table["value"]]
    families = {REGISTRY.get(m, LABEL_MAPS).family for m in pseudo["method"]}
    tuned = {f: weak_keys(f, settings) for f in sorted(families)}
    return [
        "## Tuned settings and where they were chosen",
        "",
        "Settings whose value was picked by comparing results (pixelnoise/provenance.py;",
        "docs/benchmarks.md has the evidence). paper, D_c (auto), val (segmentation networks)",
        "and a priori are choices a user repeats on their own data; D_n weak masks means the",
        "value was picked on the weak images' masks, the pixels the pseudo-label table scores,",
        "and is to be re-chosen on D_c. \"this run's config\": a value this run set itself.",
        "Every family's settings are listed, whether or not this run has its methods.",
        "",
        markdown_table(table[["key", "value", "chosen_on", "families", "evidence"]]),
        "",
        *tau.lines(),
        "",
        *(f"- {f}: tuned on the scored images through {', '.join(keys)}" if keys
          else f"- {f}: no setting chosen on the scored images" for f, keys in tuned.items()),
        "",
    ]  # fmt: skip


def family_time_section(
    benchmarks: pd.DataFrame, families: dict[str, str], pseudo: pd.DataFrame
) -> list[str]:
    """The opening's paragraph (lines) on how long each family took
    (:mod:`pixelnoise.family_time`), with the run's networks of each family (``families``:
    network -> family)."""
    if benchmarks.empty:
        return []
    methods = run_methods(REGISTRY, {CHECKPOINT: list(families), LABEL_MAPS: pseudo["method"]})
    table = family_times(benchmarks, methods)
    table.insert(
        1,
        "networks",
        [", ".join(n for n, f in families.items() if f == family) for family in table["family"]],
    )
    total = table[["jobs", "seconds", "cpu_seconds"]].sum()
    table.loc[len(table)] = {"family": "all", "networks": "", **total}
    return [
        "### Time per family",
        "",
        "Wall and CPU seconds of the run's jobs (`results/benchmarks/`), summed per method",
        "family of the registry: a job making a correction run, pseudo labels or a network counts",
        "for that method's family (so the labels a network learns from count for their own",
        "family); a job of the pipeline itself counts for a family when only that family's methods",
        f"consume what it makes, and as `{SHARED}` otherwise; files an earlier configuration left",
        f"count as `{NOT_LISTED}`. Jobs run side by side, so the summed wall seconds exceed the",
        "run's elapsed time.",
        "",
        markdown_table(
            table.rename(columns={"seconds": "wall s", "cpu_seconds": "CPU s"}), floatfmt=".0f"
        ),
        "",
    ]


def unscored_note(table: pd.DataFrame, role: str, what: str) -> list[str]:
    """A paragraph (lines) on the images that could not be scored for lack of masks (normal
    for weakly labelled data); none when every image was scored."""
    if "images_without_mask" not in table or not (table["images_without_mask"] > 0).any():
        return []
    row = table.iloc[0]
    total = int(row.images + row.images_without_mask)
    if row.images == 0:
        return [
            "",
            f"**{what} could not be measured:** none of the {total} {role} images has a mask "
            "(normal for weakly labelled data); every method still ran.",
        ]
    return [
        "",
        f"{what} is measured on the {int(row.images)} of {total} {role} images that have a "
        f"mask; the other {int(row.images_without_mask)} have none.",
    ]


def fallback_sentence(pseudo: pd.DataFrame) -> str:
    """How many weak images kept their CAM labels because no superpixel was supervised."""
    fell_back = pseudo[pseudo["cam_fallbacks"] > 0]
    if fell_back.empty:
        return "No weak image fell back to its CAM labels."
    parts = [f"{r.method} {r.cam_fallbacks} of {r.images}" for r in fell_back.itertuples()]
    return "Weak images that fell back to their CAM labels (no supervised superpixel): " + (
        ", ".join(parts) + "."
    )


def wsgcn_section(pseudo: pd.DataFrame, has_background: bool) -> list[str]:
    """Pan et al.'s Table 2 from the listed WSGCN methods (lines), or nothing if none is listed:
    loss terms as rows, without and with the CRF as columns."""
    scores = dict(zip(pseudo["method"], pseudo["miou"], strict=True))
    rows = []
    for run in wsgcn.ABLATION:
        if run in scores or run + wsgcn.CRF_SUFFIX in scores:
            _, entropy, laplacian, _ = wsgcn.RUNS[run]
            rows.append({
                "losses": wsgcn.LOSSES[entropy, laplacian],
                "method": run,
                "miou": scores.get(run, float("nan")),
                "miou_crf": scores.get(run + wsgcn.CRF_SUFFIX, float("nan")),
            })  # fmt: skip
    if not rows:
        return []
    background = (
        "With a background class, the partial labels have foreground and background seeds."
        if has_background
        else "**This dataset has no background class:** the partial labels are foreground "
        "seeds only, and the background term l_bg of eq. 2 vanishes."
    )
    return [
        "### WSGCN ablation (Pan et al. Table 2)",
        "",
        "Pseudo-label mIoU (%) on D_n of a GCN per image trained on WSGCN's partial labels",
        "(`wsgcn_seeds`) with the listed loss terms, without and with WSGCN's dense CRF. The",
        "paper (VOC, IRNet's CAMs and affinities): CE only 62.0, both terms 66.7, with CRF 68.0.",
        background,
        "",
        markdown_table(pd.DataFrame(rows)),
        "",
    ]


def per_class(table: pd.DataFrame) -> pd.DataFrame:
    """Methods as rows, classes as columns, from the ``iou_<class>`` columns."""
    columns = [c for c in table.columns if c.startswith("iou_")]
    frame = table[["method", *columns]].copy()
    frame.columns = ["method", *(c.removeprefix("iou_") for c in columns)]
    return frame
