"""Every method a run can list, declared once (see :mod:`pixelnoise.methods.registry`).

Importing this needs neither torch nor DGL: the Snakefile reads it to derive wildcards and
inputs, and label and table jobs read it without paying for torch. A new family adds a module
here that yields its :class:`Method` entries and one line below (``docs/adding-a-method.md``).

>>> REGISTRY.get("detect_gat_crf", LABEL_MAPS).consumes
('cams', 'graphs', 'node_probabilities:detect_gat')
>>> REGISTRY.reads_weak_masks("oracle_gat_crf", LABEL_MAPS)
True
"""

from __future__ import annotations

from pixelnoise.methods import fan, mllc, segmentation, wsgcn, yi
from pixelnoise.methods.registry import (
    CHECKPOINT,
    LABEL_MAPS,
    NODE_PROBABILITIES,
    Method,
    Registry,
)
from pixelnoise.methods.segmentation import DC_ONLY, FULL_GT


def _declared() -> list[Method]:
    methods = [*yi.methods(), *wsgcn.methods(), *fan.methods()]
    return [
        *methods,
        *segmentation.baselines(),
        *segmentation.trained_on_pseudo_labels(methods),
        *fan.multi_estimate_networks(),
        *mllc.methods(),
    ]


REGISTRY = Registry(_declared())

__all__ = [
    "CHECKPOINT",
    "DC_ONLY",
    "FULL_GT",
    "LABEL_MAPS",
    "NODE_PROBABILITIES",
    "REGISTRY",
    "Method",
    "Registry",
]
