"""Upper bounds that read weak masks, left out of a run whose weak images have none.

Real weakly labelled data has image-level labels only. The methods the registry flags as
reading weak masks (the oracles and full_gt, and what is made from them) cannot run on it;
rather than fail at the first missing mask an hour into the run, the plan leaves them out and
the report says which and why. Masks are only looked up here (does the file exist?), never
opened, and the plan is the only thing that depends on the answer.
"""

from __future__ import annotations

import os

from pixelnoise.errors import ConfigError
from pixelnoise.methods.registry import CONFIG_KEYS, Registry


def missing_train_masks(dataset_cfg: dict) -> str | None:
    """A sentence saying how many train images have no mask, or None if all have one (a
    generated dataset always has). Strong images must have theirs (the manifest checks), so a
    missing one is a weak image's."""
    if dataset_cfg["kind"] != "voc":
        return None
    root = dataset_cfg["root"]
    split = os.path.join(root, "ImageSets/Segmentation", f"{dataset_cfg['train_split']}.txt")
    if not os.path.isfile(split):
        return None  # the manifest names the missing file
    with open(split) as f:
        ids = [line.strip() for line in f if line.strip()]
    masks = os.path.join(root, dataset_cfg["mask_dir"])
    missing = sum(not os.path.isfile(os.path.join(masks, f"{i}.png")) for i in ids)
    if not missing:
        return None
    return f"{missing} of the {len(ids)} train images have no mask in {masks}"


def leave_out_weak_mask_readers(
    registry: Registry, names: list[str], produces: str, missing: str | None
) -> tuple[list[str], list[str]]:
    """``names`` split into those that run and those left out: methods that read weak masks,
    when ``missing`` (from :func:`missing_train_masks`) says some weak images have none.

    >>> from pixelnoise.methods import LABEL_MAPS, REGISTRY
    >>> leave_out_weak_mask_readers(REGISTRY, ["cam", "oracle_gat_crf"], LABEL_MAPS, "1 of 2")
    (['cam'], ['oracle_gat_crf'])
    >>> leave_out_weak_mask_readers(REGISTRY, ["cam", "oracle_gat_crf"], LABEL_MAPS, None)
    (['cam', 'oracle_gat_crf'], [])
    """
    if missing is None:
        return list(names), []
    left_out = [n for n in names if registry.reads_weak_masks(n, produces)]
    if names and len(left_out) == len(names):
        raise ConfigError(
            f"every method of `{CONFIG_KEYS[produces]}` reads weak masks ({', '.join(names)}), "
            f"but {missing}: list a method that does not"
        )
    return [n for n in names if n not in left_out], left_out


def left_out_note(skipped: dict) -> list[str]:
    """The report's paragraph (lines) on the upper bounds left out; none if nothing was.
    ``skipped``: ``{"reason": sentence, "methods": [...], "segment.methods": [...]}``."""
    keys = ("methods", "segment.methods")
    listed = [f"`{name}` ({key})" for key in keys for name in skipped.get(key, [])]
    if not listed:
        return []
    return [
        "",
        f"**Left out:** {', '.join(listed)}: upper bounds that read masks of weak images, and "
        f"{skipped['reason']}. Add the masks to run them, or drop them from the config.",
    ]
