"""The image manifest: every image of the run with its role, labels and size, validated once.

Roles: ``strong`` (D_c, masks allowed), ``weak`` (D_n, image-level labels only; masks are
never opened here) and ``val``.

>>> ds = VocDataset("/work/shared/datasets/msrc21")                    # doctest: +SKIP
>>> df = build_manifest(ds, strong={"count": 20}, seed=0)              # doctest: +SKIP
>>> df["role"].value_counts().to_dict()                                # doctest: +SKIP
{'weak': 315, 'val': 79, 'strong': 20}
>>> write_manifest(df, "results/manifest.csv")                         # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from pixelnoise.atomic import atomic_path
from pixelnoise.data.voc import VocDataset
from pixelnoise.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)

COLUMNS = ["image_id", "split", "role", "labels", "height", "width"]
ROLES = ("strong", "weak", "val")


def choose_strong(
    train_ids: list[str],
    *,
    count: int | None = None,
    fraction: float | None = None,
    list_file: str | os.PathLike | None = None,
    seed: int = 0,
) -> list[str]:
    """Pick the strongly annotated subset D_c of the train ids (returned sorted).

    Deterministic in (ids, seed); with one seed a smaller count is a subset of a larger one.

    >>> choose_strong(["c", "a", "b", "d"], count=2, seed=0)
    ['a', 'c']
    """
    given = {k: v for k, v in [("count", count), ("fraction", fraction), ("list", list_file)]
             if v is not None}  # fmt: skip
    if len(given) != 1:
        raise ConfigError(
            f"split.strong: give exactly one of count, fraction, list (got {sorted(given)})"
        )
    if list_file is not None:
        return _read_strong_list(Path(list_file), train_ids)
    ids = sorted(train_ids)
    if count is not None:
        if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 1:
            raise ConfigError(f"split.strong.count must be a positive integer, got {count!r}")
        if count > len(ids):
            raise ConfigError(f"split.strong.count = {count} exceeds the {len(ids)} train images")
        n = int(count)
    else:
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, (int, float))
            or not (0 < fraction <= 1)
        ):
            raise ConfigError(f"split.strong.fraction must be in (0, 1], got {fraction!r}")
        n = min(len(ids), max(1, round(fraction * len(ids))))
    order = np.random.default_rng(seed).permutation(len(ids))
    return sorted(ids[i] for i in order[:n])


def _read_strong_list(path: Path, train_ids: list[str]) -> list[str]:
    if not path.is_file():
        raise DatasetError(f"strong list not found: {path} (split.strong.list)")
    ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not ids:
        raise DatasetError(f"strong list {path} is empty")
    train = set(train_ids)
    for image_id in ids:
        if image_id not in train:
            raise DatasetError(f"strong list {path}: image {image_id} is not in the train split")
    if len(set(ids)) != len(ids):
        raise DatasetError(f"strong list {path} lists an image twice")
    return sorted(ids)


def build_manifest(
    dataset: VocDataset,
    *,
    train_split: str = "train",
    val_split: str = "val",
    strong: dict,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Assign roles and validate every image; stops at the first bad file (DatasetError).

    Each image is decoded and its labels read; masks are checked for strong images (which
    must have one) and for the val images that have one (val images without masks are
    predicted, not scored). Weak images' masks are never opened. ``strong`` is
    ``{"count": n}``, ``{"fraction": f}`` or ``{"list": path}``.
    """
    unknown = set(strong) - {"count", "fraction", "list"}
    if unknown:
        raise ConfigError(f"split.strong: unknown keys {sorted(unknown)}")
    train_ids = dataset.split_ids(train_split)
    val_ids = dataset.split_ids(val_split)
    for ids, split, key in (
        (train_ids, train_split, "train_split"),
        (val_ids, val_split, "val_split"),
    ):
        if not ids:
            raise DatasetError(
                f"{dataset.split_file(split)} lists no images (config key dataset.{key})"
            )
    both = sorted(set(train_ids) & set(val_ids))
    if both:
        raise DatasetError(
            f"image {both[0]} is in both {dataset.split_file(train_split)} and "
            f"{dataset.split_file(val_split)} ({len(both)} shared ids)"
        )
    strong_ids = set(
        choose_strong(train_ids, count=strong.get("count"), fraction=strong.get("fraction"),
                      list_file=strong.get("list"), seed=seed)
    )  # fmt: skip
    if len(strong_ids) >= len(train_ids):
        raise ConfigError(
            f"split.strong takes all {len(train_ids)} train images, which leaves no weak images "
            f"(D_n is empty): choose a smaller count, fraction or list"
        )
    jobs = [(i, train_split, "strong" if i in strong_ids else "weak") for i in train_ids]
    jobs += [(i, val_split, "val") for i in val_ids]
    rows = []
    void_strong = []
    for image_id, split, role in tqdm(jobs, desc="validate dataset", disable=not progress):
        height, width = dataset.read_image(image_id).shape[:2]
        labels = dataset.labels(image_id)
        if role == "strong":  # D_c needs its masks, and they must teach the clean model
            if not check_strong_mask(dataset, image_id, dataset.read_mask(image_id), labels):
                void_strong.append(image_id)
        elif role == "val" and dataset.has_mask(image_id):  # val masks are optional
            dataset.read_mask(image_id)
        rows.append((image_id, split, role, " ".join(map(str, labels)), height, width))
    if len(void_strong) == len(strong_ids):
        raise DatasetError(
            f"every mask of the strong set D_c is void (all {dataset.classes.void}), e.g. "
            f"{dataset.mask_path(void_strong[0])}: the clean model would train on nothing; "
            f"check {dataset.mask_dir} (or split.strong)"
        )
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.sort_values(["split", "image_id"], kind="stable", ignore_index=True)


def check_strong_mask(
    dataset: VocDataset, image_id: str, mask: np.ndarray, labels: tuple[int, ...]
) -> bool:
    """Warn, naming the mask, when a strong image's mask is all void (it teaches nothing) or
    shows object classes its image-level labels do not list; False when it is all void."""
    path = dataset.mask_path(image_id)
    present = {int(v) for v in np.unique(mask)} - {dataset.classes.void}
    if not present:
        log.warning("mask %s of strong image %s is all void: it teaches the clean model "
                    "nothing", path, image_id)  # fmt: skip
        return False
    extra = sorted(present - set(labels) - {dataset.classes.background})
    if extra:
        log.warning(
            "mask %s of strong image %s shows classes %s, which its image-level labels %s do "
            "not list",
            path,
            image_id,
            [dataset.classes.names[c] for c in extra],
            list(labels),
        )
    return True


def write_manifest(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the manifest CSV atomically (tuple labels are joined with spaces)."""
    out = df[COLUMNS].copy()
    out["labels"] = [v if isinstance(v, str) else " ".join(map(str, v)) for v in out["labels"]]
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read a manifest CSV; ``labels`` becomes ``tuple[int, ...]``, ids stay strings."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"manifest not found: {path}")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read manifest {path}: {exc}") from exc
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DatasetError(f"manifest {path} lacks columns {missing}")
    try:
        df["labels"] = [tuple(int(t) for t in v.split()) for v in df["labels"]]
        df["height"] = df["height"].astype(int)
        df["width"] = df["width"].astype(int)
    except ValueError as exc:
        raise DatasetError(f"manifest {path} has a malformed value: {exc}") from exc
    return df


def ids_with_role(df: pd.DataFrame, *roles: str) -> list[str]:
    """Image ids whose role is one of ``roles``, in manifest order.

    >>> ids_with_role(pd.DataFrame({"image_id": ["a", "b"], "role": ["weak", "val"]}), "val")
    ['b']
    """
    bad = [r for r in roles if r not in ROLES]
    if not roles or bad:
        raise ValueError(f"roles must be among {ROLES}, got {roles}")
    return df.loc[df["role"].isin(roles), "image_id"].tolist()
