"""Where each tuned setting was chosen: the one table the schema's descriptions, the report and
docs/benchmarks.md are checked against (tests/test_provenance.py).

A setting is *tuned* when its value was picked by comparing results. Where it was picked is one
of the kinds below. Only ``paper``, ``D_c``, ``D_c (auto)``, ``val`` (for the segmentation
networks, which are scored on val anyway) and ``a priori`` are choices a user can repeat on their
own data; ``D_n weak masks`` means the value was picked by scores on the weak images' masks, the
very pixels the pseudo-label tables score, and is to be re-chosen on D_c.

>>> entry_for("cam.tau_bg", "auto").chosen_on
'D_c (auto)'
>>> tuned_on_scored_images("wsgcn", run_settings({"wsgcn": {"entropy_over": "mean"}}))
True
"""

from __future__ import annotations

from dataclasses import dataclass

#: The phrase that starts a tuned key's provenance in its schema description.
MARKER = "Chosen on:"
PAPER = "paper"
DC_AUTO = "D_c (auto)"
VAL = "val"
PRIOR = "a priori"
WEAK = "D_n weak masks"
#: Kinds a user repeats without the weak images' masks.
HONEST = (PAPER, DC_AUTO, VAL, PRIOR)
#: A run's value that matches no entry: set by the run's own configuration, or the untuned
#: default of a key tuned only in another config file.
THIS_RUN = "this run's config"
NOT_TUNED = "not tuned (the default)"
#: ``families`` of a setting that shapes what every method starts from (the CAMs).
ALL = "all"
DEFAULT_CONFIG = "config/config.yaml"


@dataclass(frozen=True)
class Tuned:
    """One tuned value of ``key`` (dotted), where it was chosen and on what evidence; the
    method families whose results it shapes; the config file that sets it (None: a former
    default no config sets any more, listed so that a run that still uses it is named)."""

    key: str
    value: object
    chosen_on: str
    evidence: str
    families: tuple[str, ...] = (ALL,)
    config: str | None = DEFAULT_CONFIG


TUNED: tuple[Tuned, ...] = (
    Tuned("cam.tau_bg", "auto", DC_AUTO,
          "rule choose_tau_bg: the τ of cam.tau_bg_sweep with the best CAM-label mIoU on D_c's "
          "masks (results/cams/tau_bg.json and tau_bg_curve.csv)"),
    Tuned("cam.tau_bg", 0.05, PAPER, "Yi et al. Sec. III-A", config="config/voc12.yaml"),
    Tuned("cam.tau_bg", 0.3, WEAK,
          "the weak-set τ sweep (cam_threshold_sweep, CAM mIoU on D_n): the default before auto",
          config=None),
    Tuned("classifier.crop_size", 80, WEAK,
          "CAM mIoU on D_n of an earlier generator (docs/benchmarks.md, 'Classifier tuning that "
          "led to the default') - to re-choose on D_c"),
    Tuned("detect.theta", None, DC_AUTO,
          "select_theta: the largest θ whose kept CAM labels reach detect.min_accuracy on D_c "
          "(Yi et al. Sec. III-B)", families=("yi", "wsgcn", "mllc")),
    Tuned("detect.min_accuracy", 0.9, PRIOR,
          "set without a sweep; 0.95 was measured on val networks (docs/benchmarks.md) and not "
          "adopted", families=("yi", "wsgcn", "mllc")),
    Tuned("graph.n_segments", 300, PAPER,
          "the paper's density (~1000 superpixels per 320×213 photo) on images 4× smaller",
          families=("yi",)),
    Tuned("graph.n_segments", 1000, PAPER, "the paper's setting for 320×213 photos",
          families=("yi",), config="config/msrc21.yaml"),
    Tuned("correct.epochs", 20, WEAK,
          "pseudo-label mIoU on D_n: as good as 40 in half the time (commit e920d83) - to "
          "re-choose on D_c", families=("yi",)),
    Tuned("correct.epochs", 40, WEAK,
          "pseudo-label mIoU on MSRC-21's 301 weak images (docs/benchmarks.md, 'Levers of the "
          "correction stage') - to re-choose on D_c", families=("yi",),
          config="config/msrc21.yaml"),
    Tuned("clean_model.epochs", 150, WEAK,
          "the pseudo-label chain on MSRC-21's weak images at 60 and 150 epochs "
          "(docs/benchmarks.md, 'MSRC-21, full run') - to re-choose on D_c",
          config="config/msrc21.yaml"),
    Tuned("wsgcn.entropy_over", "mean", WEAK,
          "pseudo-label mIoU on MSRC-21's 301 weak images, 43.70 against the paper's sum 41.52 "
          "(docs/benchmarks.md, 'WSGCN on MSRC-21') - to re-choose on D_c", families=("wsgcn",)),
    Tuned("wsgcn.laplacian_on", "probabilities", PAPER,
          "the paper's Q (it also scored best on MSRC-21's weak masks, but the value is the "
          "paper's)", families=("wsgcn",)),
    Tuned("wsgcn.entropy_weight", 10.0, PAPER, "Pan et al.'s β1", families=("wsgcn",)),
    Tuned("wsgcn.laplacian_weight", 0.01, PAPER, "Pan et al.'s β2", families=("wsgcn",)),
    Tuned("fan.t_fg", 0.1, PAPER, "Fan et al.'s foreground threshold", families=("fan",)),
    Tuned("fan.t_bg", 0.05, PRIOR, "a low-CAM rule in place of the paper's saliency < 0.06",
          families=("fan",)),
    Tuned("fan.crf_background", 0.3, WEAK,
          "copied from the former cam.tau_bg 0.3, the weak-set sweep's pick - to re-choose on "
          "D_c", families=("fan",)),
    Tuned("mllc.alpha", 0.2, PAPER, "Xiao et al.'s Table X (the text's 0.8 contradicts it)",
          families=("mllc",)),
    Tuned("mllc.sigma", 0.95, PAPER, "Xiao et al.'s FlexMatch threshold", families=("mllc",)),
    Tuned("segment.network.lr", 0.002, VAL,
          "val mIoU: 0.004 made single runs swing by 10 points (docs/benchmarks.md)"),
    Tuned("segment.network.init", "clean_model", VAL,
          "val mIoU: from scratch the networks scored below the clean model (docs/benchmarks.md)"),
    Tuned("segment.network.epochs", 30, VAL,
          "val mIoU: no lower than 60 epochs, 15 epochs 2.4 points lower (docs/benchmarks.md, "
          "'Segmentation training speed')", config="config/msrc21.yaml"),
    Tuned("segment.evaluation.scales", [0.6], VAL,
          "val mIoU at the scale the network was trained at (docs/benchmarks.md)",
          config="config/msrc21.yaml"),
)  # fmt: skip


def keys() -> list[str]:
    """The tuned keys, in table order, each once."""
    return list(dict.fromkeys(t.key for t in TUNED))


def value_at(config: dict, key: str):
    """The value of a dotted ``key`` in a nested config; KeyError names the key."""
    value = config
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(key)
        value = value[part]
    return value


def entry_for(key: str, value) -> Tuned | None:
    """The table's entry for this value of ``key``, or None (a value the run chose itself)."""
    return next((t for t in TUNED if t.key == key and t.value == value), None)


def run_settings(config: dict, defaults: dict | None = None) -> list[dict]:
    """The run's tuned settings: key, value, where it was chosen, evidence and families (keys
    the config lacks are left out). A value no entry names is the run's own, or, if it is the
    one ``defaults`` (config/config.yaml) holds, an untuned default."""
    rows = []
    for key in keys():
        try:
            value = value_at(config, key)
        except KeyError:
            continue
        entry = entry_for(key, value)
        own = THIS_RUN
        if defaults is not None and value == value_at(defaults, key):
            own = NOT_TUNED
        families = next(t.families for t in TUNED if t.key == key)
        rows.append({
            "key": key,
            "value": value,
            "chosen_on": entry.chosen_on if entry else own,
            "evidence": entry.evidence if entry else "",
            "families": ", ".join(families),
        })  # fmt: skip
    return rows


def weak_keys(family: str, settings: list[dict]) -> list[str]:
    """The run's settings chosen on D_n weak masks that shape this method family's results."""
    return [
        s["key"] for s in settings
        if s["chosen_on"] == WEAK and {ALL, family} & set(s["families"].split(", "))
    ]  # fmt: skip


def tuned_on_scored_images(family: str, settings: list[dict]) -> bool:
    """Whether a method of ``family`` could have been tuned on the weak images' masks, the
    pixels the pseudo-label table scores."""
    return bool(weak_keys(family, settings))


def schema_phrase(key: str) -> str:
    """The provenance a key's schema description states: ``Chosen on: <kind>`` for the
    default's value, then ``<config file>: <kind>`` for the other configs' values."""
    parts = [t.chosen_on if t.config == DEFAULT_CONFIG else f"{t.config}: {t.chosen_on}"
             for t in TUNED if t.key == key and t.config is not None]  # fmt: skip
    return f"{MARKER} {'; '.join(parts)}"


def markdown_table() -> str:
    """The table for docs/benchmarks.md."""
    rows = ["| key | value | config | chosen on | evidence |", "|---|---|---|---|---|"]
    for t in TUNED:
        value = "null" if t.value is None else t.value
        rows.append(f"| `{t.key}` | `{value}` | {t.config or 'former default'} | {t.chosen_on} "
                    f"| {t.evidence} |")  # fmt: skip
    return "\n".join(rows)
