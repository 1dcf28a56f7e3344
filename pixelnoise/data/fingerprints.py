"""Rerun triggers for a VOC-style dataset's files, by role: what a job reads decides what
invalidates it.

A job's ``data`` param is a fingerprint (size and modification time, never the content) of the
files it reads: the images and masks of the roles it reads (``strong`` is D_c, ``weak`` D_n,
``val``), of its shard where it works on one. So a fixed val mask reruns the evaluations only,
a D_c mask the clean model and what follows, and an edited weak image the jobs that read it.
Weak masks are only stat-ed here, never opened. The manifest's own trigger covers what it
records: ids, splits and labels (its inputs) and each image's size (from the header).

Roles are assigned here as the manifest assigns them (:func:`choose_strong` on the split
files), so the fingerprints are known when Snakemake plans, before the manifest exists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cached_property

from pixelnoise.data.manifest import choose_strong
from pixelnoise.data.voc import VocDataset
from pixelnoise.shards import shard_ids

KINDS = ("images", "masks")


class DatasetFingerprints:
    """Fingerprints of the files of a VOC-style dataset, by role (see the module doc)."""

    def __init__(self, dataset_cfg: dict, split_cfg: dict, shards: int):
        self.dataset = VocDataset.from_config(dataset_cfg)
        self.train_split = dataset_cfg["train_split"]
        self.val_split = dataset_cfg["val_split"]
        self.split_cfg = split_cfg
        self.shards = shards

    @cached_property
    def roles(self) -> dict[str, list[str]]:
        """Image ids by role, sorted, as the manifest assigns them."""
        train = self.dataset.split_ids(self.train_split)
        strong_cfg = self.split_cfg["strong"]
        strong = set(
            choose_strong(train, count=strong_cfg.get("count"),
                          fraction=strong_cfg.get("fraction"), list_file=strong_cfg.get("list"),
                          seed=self.split_cfg["seed"])
        )  # fmt: skip
        return {
            "strong": sorted(strong),
            "weak": sorted(set(train) - strong),
            "val": sorted(self.dataset.split_ids(self.val_split)),
        }

    def ids(self, roles: Iterable[str], shard: int | None = None) -> list[str]:
        """The ids of ``roles``, or of one shard of them (as the per-shard stages split them)."""
        ids = sorted(i for role in roles for i in self.roles[role])
        return ids if shard is None else shard_ids(ids, shard, self.shards)

    def files(self, kind: str, roles: Iterable[str], shard: int | None = None) -> str:
        """A fingerprint of the ``kind`` (images or masks) of ``roles`` (of one shard): each
        file's size and modification time; a missing file counts as such (a val image without
        a mask is predicted, not scored)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        path_of = self.dataset.image_path if kind == "images" else self.dataset.mask_path
        digest = hashlib.sha256()
        for image_id in self.ids(roles, shard):
            path = path_of(image_id)
            try:
                stat = path.stat()
                digest.update(f"{image_id}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
            except FileNotFoundError:
                digest.update(f"{image_id}:missing\n".encode())
        return digest.hexdigest()[:16]

    def manifest(self) -> str:
        """A fingerprint of what the manifest records besides its inputs: each image's size,
        read from the header (an image edited in place keeps it, and so the manifest)."""
        digest = hashlib.sha256()
        for image_id in self.ids(("strong", "weak", "val")):
            height, width = self.dataset.image_size(image_id)
            digest.update(f"{image_id}:{height}x{width}\n".encode())
        if self.dataset.labels_source == "xml":  # labels from Annotations/<id>.xml
            annotations = self.dataset.root / "Annotations"
            for image_id in self.ids(("strong", "weak", "val")):
                path = annotations / f"{image_id}.xml"
                stat = path.stat() if path.is_file() else None
                digest.update(f"{image_id}:{stat and (stat.st_size, stat.st_mtime_ns)}\n".encode())
        return digest.hexdigest()[:16]

    def reads(self, spec: str, shard: int | None = None) -> str:
        """The fingerprints a job reads, from ``spec``: ``;``-separated ``kind:role+role``
        (e.g. ``"images:strong+weak;masks:strong"``), of the job's ``shard`` if given."""
        parts = []
        for part in spec.split(";"):
            kind, _, roles = part.partition(":")
            parts.append(f"{part}={self.files(kind, roles.split('+'), shard)}")
        return ",".join(parts)
