"""Fan et al., *Employing Multi-Estimations for WSSS*: several pseudo-label estimates per image
(threshold and CRF, three CAM scales, two classifiers), each an ordinary pseudo-label method,
and segmentation networks trained on many of them at once with the weighted selective training
loss (WST, eq. 5-7) or the plain multi-label loss (eq. 4). Settings: the config's ``fan``.

Estimate names: ``fan_<t|c>_<main|second>_<s100|s075|s050>``, e.g. ``fan_c_second_s075``
(the CRF estimate from the second classifier's CAMs at scale 0.75).
"""

from __future__ import annotations

from collections.abc import Iterator

from pixelnoise.methods.registry import (
    CAM_CLASSIFIERS,
    CAM_SCALES,
    CHECKPOINT,
    LABEL_MAPS,
    Method,
    scale_cams,
)
from pixelnoise.methods.segmentation import TRAINING_MODULE

FAMILY = "fan"
SETTINGS = "fan"
KINDS = {"t": "threshold", "c": "crf"}


def estimate_name(kind: str, classifier: str, tag: str) -> str:
    return f"fan_{kind}_{classifier}_{tag}"


ESTIMATES = [
    estimate_name(kind, classifier, tag)
    for classifier in CAM_CLASSIFIERS
    for tag in CAM_SCALES
    for kind in KINDS
]
#: Segmentation methods trained on several estimates: name -> (estimates, weighted selection).
#: ``fan_project_wst`` takes this project's own pseudo labels as the estimates.
MULTI = {
    "fan12_wst": (ESTIMATES, True),
    "fan12_plain": (ESTIMATES, False),
    "fan2_wst": ([estimate_name("t", "main", "s100"), estimate_name("c", "main", "s100")], True),
    "fan_project_wst": (["cam", "detect_gat_crf", "detect_gcn_crf", "wsgcn_crf"], True),
}


def methods() -> Iterator[Method]:
    for classifier in CAM_CLASSIFIERS:
        for tag, scale in CAM_SCALES.items():
            for kind, rule in KINDS.items():
                yield Method(
                    estimate_name(kind, classifier, tag),
                    FAMILY,
                    LABEL_MAPS,
                    stage="pseudo_labels",
                    consumes=(scale_cams(classifier, tag),),
                    module="pixelnoise.estimates",
                    crf=kind == "c",
                    options={
                        "kind": rule,
                        "cams": scale_cams(classifier, tag),
                        "settings": SETTINGS,
                    },  # fmt: skip
                    description=f"{rule} estimate from the {classifier} classifier's CAMs "
                    f"at scale {scale}",
                )


def multi_estimate_networks() -> Iterator[Method]:
    """Declared after every label method: they consume other families' labels too."""
    for name, (estimates, weighted) in MULTI.items():
        loss = "weighted selective training" if weighted else "the plain multi-label loss"
        yield Method(
            name,
            FAMILY,
            CHECKPOINT,
            stage="train_segmentation",
            consumes=("strong_masks", *(f"{LABEL_MAPS}:{e}" for e in estimates)),
            module=TRAINING_MODULE,
            options={"labels": "estimates", "weighted": weighted, "settings": SETTINGS},
            description=f"D_c + {len(estimates)} estimates, {loss}",
        )
