"""One reader for VOC-style dataset trees (PASCAL VOC, MSRC-21, synthetic sets).

Layout under ``root``::

    JPEGImages/<id>.jpg                  RGB images
    SegmentationClass/<id>.png           label maps (class index, 255 = void)
    ImageSets/Segmentation/<split>.txt   one id per line
    image_labels.csv                     image_id,labels (class indices: spaces, commas or ;)
    Annotations/<id>.xml                 (VOC) object names, used when labels_source="xml"
    classes.json                         {"classes": [...], "background": 0 | null, "void": 255}

Masks are read only by :meth:`VocDataset.read_mask` / :meth:`VocDataset.has_mask` (and
:meth:`VocDataset.scoring_mask`, for evaluation and flagged upper bounds), so a weakly labelled
image never has its mask opened unless evaluation (or an oracle) asks for it.

>>> ds = VocDataset("/work/shared/datasets/msrc21")          # doctest: +SKIP
>>> ds.classes.num_classes, ds.classes.background             # doctest: +SKIP
(21, None)
>>> ds.labels(ds.split_ids("train")[0])                       # doctest: +SKIP
(11,)
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simplejpeg
from PIL import Image

from pixelnoise.data.orientation import displayed_size, orientation, to_display
from pixelnoise.data.palette import load_label_png
from pixelnoise.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)

#: The 21 PASCAL VOC class names (index 0 is background), as used in Annotations/*.xml.
VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip

_READ_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
# Pixel modes read as 8-bit RGB without losing information (palette, grey, CMYK, YCbCr, alpha).
_IMAGE_MODES = ("RGB", "L", "P", "RGBA", "LA", "PA", "CMYK", "YCbCr")
# Ids that are paths or hold control characters (checked where split files are read).
_UNSAFE_ID = re.compile(r"[/\\\x00-\x1f\x7f]|\.\.")
# Image-level labels may be separated by spaces, commas or semicolons.
_LABEL_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class ClassInfo:
    """Class names in index order, the background index (or None) and the void value.

    >>> info = ClassInfo(("background", "cat", "dog"), background=0)
    >>> info.num_classes, info.object_classes
    (3, (1, 2))
    """

    names: tuple[str, ...]
    background: int | None
    void: int = 255

    def __post_init__(self) -> None:
        if not self.names or len(set(self.names)) != len(self.names):
            raise ValueError(f"class names must be non-empty and unique: {self.names}")
        if self.background is not None and not 0 <= self.background < len(self.names):
            raise ValueError(f"background index {self.background} outside 0..{len(self.names) - 1}")
        if not len(self.names) <= self.void <= 255:
            raise ValueError(f"void value {self.void} must lie in {len(self.names)}..255")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def object_classes(self) -> tuple[int, ...]:
        return tuple(i for i in range(self.num_classes) if i != self.background)


def check_image_id(image_id: str, where: str) -> str:
    """Return ``image_id`` if it is a plain name; an id that is a path (``/``, ``\\``, ``..``)
    or holds control characters would read or write files outside the dataset and the run's
    folders, so it is a DatasetError naming ``where`` (file and line).

    >>> check_image_id("2007_000032", "train.txt, line 1")
    '2007_000032'
    >>> try:
    ...     check_image_id("../escape", "val.txt, line 3")
    ... except DatasetError as error:
    ...     print(error)  # doctest: +ELLIPSIS
    val.txt, line 3: image id '../escape' is a path or holds control characters; ...
    """
    if _UNSAFE_ID.search(image_id):
        raise DatasetError(
            f"{where}: image id {image_id!r} is a path or holds control characters; ids are "
            f"file names without folders (no /, \\, .. or control characters)"
        )
    return image_id


def _is_index(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def load_classes(path: Path, background: int | None | str = "auto") -> ClassInfo:
    """Read ``classes.json``; an explicit ``background`` (not "auto") overrides the file."""
    if not path.is_file():
        raise DatasetError(f"class list not found: {path} (write it or set dataset.classes)")
    try:
        data = json.loads(path.read_text())
        names = data["classes"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError('"classes" must be a list of strings')
        bg = data.get("background", "auto") if background == "auto" else background
        if bg == "auto":
            bg = names.index("background") if "background" in names else None
        if bg is not None and not _is_index(bg):
            raise ValueError(f'"background" must be null or an integer, got {bg!r}')
        void = data.get("void", 255)
        if not _is_index(void):
            raise ValueError(f'"void" must be an integer, got {void!r}')
        return ClassInfo(tuple(names), bg, void)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(f"invalid class list {path}: {exc}") from exc


def class_info(
    root: Path, class_names: list[str] | None, background: int | None | str
) -> ClassInfo:
    """The classes of a dataset: ``dataset.classes`` (with ``dataset.background``) if given,
    else ``<root>/classes.json``."""
    if class_names is None:
        return load_classes(Path(root) / "classes.json", background)
    bg = background
    if bg == "auto":
        bg = class_names.index("background") if "background" in class_names else None
    try:
        return ClassInfo(tuple(class_names), bg)
    except ValueError as exc:
        raise ConfigError(f"dataset.classes / dataset.background: {exc}") from exc


class VocDataset:
    """Images, masks, splits and image-level labels of a VOC-style tree (see module doc)."""

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        mask_dir: str = "SegmentationClass",
        image_dir: str = "JPEGImages",
        labels_source: str = "csv",
        labels_file: str = "image_labels.csv",
        class_names: list[str] | None = None,
        background: int | None | str = "auto",
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"dataset root not found: {self.root}")
        if labels_source not in ("csv", "xml"):
            raise ConfigError(f"dataset.labels_source must be csv or xml, got {labels_source!r}")
        self.image_dir = self.root / image_dir
        self.mask_dir = self.root / mask_dir
        self.labels_source = labels_source
        self.labels_file = self.root / labels_file
        self.classes = class_info(self.root, class_names, background)
        self._csv: dict[str, str] | None = None
        self._xml: dict[str, tuple[int, ...]] = {}

    @classmethod
    def from_config(cls, cfg: dict) -> VocDataset:
        """Build from the ``dataset`` config section; missing keys take the defaults.

        >>> VocDataset.from_config({"root": "/work/shared/datasets/msrc21"})  # doctest: +SKIP
        """
        if not cfg.get("root"):
            raise ConfigError("dataset.root is required")
        return cls(
            cfg["root"],
            image_dir=cfg.get("image_dir") or "JPEGImages",
            mask_dir=cfg.get("mask_dir") or "SegmentationClass",
            labels_source=cfg.get("labels_source") or "csv",
            labels_file=cfg.get("labels_file") or "image_labels.csv",
            class_names=cfg.get("classes"),
            background=cfg.get("background", "auto"),
        )

    def __repr__(self) -> str:
        return f"VocDataset({str(self.root)!r}, {self.classes.num_classes} classes)"

    # --- splits and paths -------------------------------------------------------------
    def split_file(self, split: str) -> Path:
        return self.root / "ImageSets" / "Segmentation" / f"{split}.txt"

    def split_ids(self, split: str) -> list[str]:
        """Ids listed in ``ImageSets/Segmentation/<split>.txt``, in file order."""
        path = self.split_file(split)
        if not path.is_file():
            raise DatasetError(f"split file not found: {path}")
        ids = []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip():
                ids.append(check_image_id(line.strip(), f"{path}, line {number}"))
        dup = sorted(i for i, n in Counter(ids).items() if n > 1)
        if dup:
            raise DatasetError(f"duplicate ids in {path}: {dup[:5]}")
        return ids

    def image_path(self, image_id: str) -> Path:
        return self.image_dir / f"{image_id}.jpg"

    def mask_path(self, image_id: str) -> Path:
        return self.mask_dir / f"{image_id}.png"

    def has_mask(self, image_id: str) -> bool:
        return self.mask_path(image_id).is_file()

    # --- images and masks -------------------------------------------------------------
    def _existing_image(self, image_id: str) -> Path:
        path = self.image_path(image_id)
        if not path.is_file():
            raise DatasetError(f"image not found: {path}")
        return path

    def read_image(self, image_id: str) -> np.ndarray:
        """Fully decode the image as HxWx3 uint8 RGB; corrupt or truncated files raise.

        Pixels come in display orientation (EXIF, see pixelnoise.data.orientation). JPEGs are
        decoded by libjpeg-turbo in strict mode (simplejpeg), so corrupt data that
        libjpeg only warns about (and Pillow decodes into smeared blocks without a word) raises;
        other formats go through Pillow with ``LOAD_TRUNCATED_IMAGES = False``. Pixel formats
        without a faithful 8-bit RGB reading (16-bit, 32-bit, float, 1-bit) raise too.
        """
        path = self._existing_image(image_id)
        try:
            data = path.read_bytes()
            with Image.open(io.BytesIO(data)) as img:
                turn = orientation(img)
                if simplejpeg.is_jpeg(data):
                    try:
                        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
                    except ValueError as exc:
                        raise DatasetError(f"corrupt JPEG {path}: {exc}") from exc
                    return to_display(pixels, turn)
                if img.mode not in _IMAGE_MODES:
                    raise DatasetError(
                        f"image {path} has pixel mode {img.mode!r} ({img.format}); expected 8-bit "
                        f"RGB or greyscale: convert it, e.g. to an 8-bit JPEG"
                    )
                img.load()
                return to_display(np.asarray(img.convert("RGB"), dtype=np.uint8), turn)
        except _READ_ERRORS as exc:
            raise DatasetError(f"cannot decode image {path}: {exc}") from exc

    def image_size(self, image_id: str) -> tuple[int, int]:
        """(height, width) as displayed (EXIF orientation applied), from the image header."""
        path = self._existing_image(image_id)
        try:
            with Image.open(path) as img:
                return displayed_size(img)
        except _READ_ERRORS as exc:
            raise DatasetError(f"cannot read image {path}: {exc}") from exc

    def read_mask(self, image_id: str) -> np.ndarray:
        """HxW uint8 class indices (void kept); checks size and values."""
        path = self.mask_path(image_id)
        if not path.is_file():
            raise DatasetError(f"mask not found: {path}")
        try:
            mask = load_label_png(path)
        except _READ_ERRORS as exc:
            raise DatasetError(f"cannot read mask {path}: {exc}") from exc
        if mask.ndim != 2:
            raise DatasetError(f"mask {path} must be a palette/greyscale PNG, got {mask.shape}")
        size = self.image_size(image_id)
        if mask.shape != size:
            raise DatasetError(
                f"mask {path} is {mask.shape[0]}x{mask.shape[1]} (HxW) but image "
                f"{self.image_path(image_id)} is {size[0]}x{size[1]}"
            )
        values = np.unique(mask)
        bad = values[(values >= self.classes.num_classes) & (values != self.classes.void)]
        if bad.size:
            raise DatasetError(
                f"mask {path} has values {bad.tolist()} that are neither a class index "
                f"(< {self.classes.num_classes}) nor void ({self.classes.void})"
            )
        return mask

    def scoring_mask(self, image_id: str) -> np.ndarray | None:
        """The mask to score (or, for an upper bound, to supervise) against, or None: absent
        (normal for weak images) or unusable (wrong size, values, unreadable: a warning names
        the file). Weak masks serve only scoring, so a bad one costs its image's score, never
        the run; strong and val masks are checked by the manifest instead."""
        if not self.has_mask(image_id):
            return None
        try:
            return self.read_mask(image_id)
        except DatasetError as error:
            log.warning("left out of scoring: %s", error)
            return None

    # --- image-level labels -----------------------------------------------------------
    def _label_table(self) -> dict[str, str]:
        if self._csv is None:
            path = self.labels_file
            if not path.is_file():
                raise DatasetError(f"image-level labels file not found: {path}")
            table: dict[str, str] = {}
            # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name.
            with path.open(newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                columns = [name.strip() for name in reader.fieldnames or ()]
                if not {"image_id", "labels"} <= set(columns):
                    raise DatasetError(
                        f"{path} must have columns image_id,labels; its header is {columns}"
                    )
                reader.fieldnames = columns
                for row in reader:
                    image_id = (row["image_id"] or "").strip()
                    if image_id in table:
                        raise DatasetError(f"image {image_id} is listed twice in {path}")
                    # An unquoted "5,12" splits into extra columns: they are labels too.
                    extra = [str(v) for v in row.get(None) or []]
                    table[image_id] = " ".join([row["labels"] or "", *extra])
            self._csv = table
        return self._csv

    def _xml_labels(self, image_id: str) -> tuple[int, ...]:
        if image_id not in self._xml:
            path = self.root / "Annotations" / f"{image_id}.xml"
            if not path.is_file():
                raise DatasetError(f"annotation not found: {path}")
            try:
                names = [(el.text or "").strip() for el in ET.parse(path).iterfind("object/name")]
            except ET.ParseError as exc:
                raise DatasetError(f"cannot parse annotation {path}: {exc}") from exc
            unknown = sorted(set(names) - set(self.classes.names))
            if unknown:
                raise DatasetError(f"annotation {path} has unknown class names {unknown}")
            self._xml[image_id] = tuple(self.classes.names.index(n) for n in names)
        return self._xml[image_id]

    def labels(self, image_id: str) -> tuple[int, ...]:
        """Sorted object classes present in the image (background dropped); never empty."""
        if self.labels_source == "xml":
            source = self.root / "Annotations" / f"{image_id}.xml"
            raw = self._xml_labels(image_id)
        else:
            source = self.labels_file
            try:
                text = self._label_table().get(image_id, "").strip()
                raw = tuple(int(tok) for tok in _LABEL_SEPARATORS.split(text) if tok)
            except ValueError as exc:
                raise DatasetError(f"{source}: image {image_id} has a non-integer label") from exc
        bad = [v for v in raw if not 0 <= v < self.classes.num_classes]
        if bad:
            raise DatasetError(
                f"{source}: image {image_id} has label {bad[0]} outside "
                f"0..{self.classes.num_classes - 1}"
            )
        labels = tuple(sorted(set(raw) - {self.classes.background}))
        if not labels:
            raise DatasetError(f"image {image_id} has no image-level labels in {source}")
        return labels
