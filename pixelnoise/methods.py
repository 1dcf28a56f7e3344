"""The pseudo-label methods a run can list (Yi et al. Tables V and VI), by name.

``cam`` and ``detect`` need no GNN; every other method is a correction run, optionally followed
by the dense CRF (``_crf``); the segmentation table adds two baselines. Importing this needs
neither torch nor DGL, so the stages that only read the methods' outputs start fast.
"""

from __future__ import annotations

from pixelnoise.errors import ConfigError

CORRECTION_RUNS = {  # run -> (node supervision, GNN kind); see pixelnoise.correct_labels
    "detect_gat": ("detect", "gat"),
    "detect_gcn": ("detect", "gcn"),
    "camseeds_gat": ("camseeds", "gat"),
    "oracle_gat": ("oracle", "gat"),
}
CRF_SUFFIX = "_crf"

# Segmentation baselines, trained next to the pseudo-label methods of `segment.methods`.
DC_ONLY = "dc_only"  # the clean model: D_c ground truth only
FULL_GT = "full_gt"  # all train masks: an upper bound
#: Segmentation "methods" whose training reads masks of weak images.
READS_WEAK_MASKS = (FULL_GT,)


def parse_method(method: str) -> tuple[str | None, bool]:
    """(correction run or None for cam/detect, whether a CRF follows).

    >>> parse_method("detect_gat_crf"), parse_method("cam")
    (('detect_gat', True), (None, False))
    """
    crf = method.endswith(CRF_SUFFIX)
    base = method.removesuffix(CRF_SUFFIX) if crf else method
    if base in ("cam", "detect") and not crf:
        return None, False
    if base not in CORRECTION_RUNS:
        raise ConfigError(f"unknown method {method!r} (config key `methods`)")
    return base, crf
