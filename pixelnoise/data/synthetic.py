"""Deterministic synthetic segmentation dataset: textured shapes with parts, contexts and clutter.

The generator writes the same layout as a VOC-style dataset, so every later stage treats it
exactly like real data::

    <root>/JPEGImages/<id>.jpg                 RGB JPEG (quality 95)
    <root>/SegmentationClass/<id>.png          palette PNG, value = class index, 255 = void
    <root>/ImageSets/Segmentation/train.txt    one id per line (``syn_00000`` ...)
    <root>/ImageSets/Segmentation/val.txt      one id per line (``syn_v00000`` ...)
    <root>/image_labels.csv                    ``image_id,labels`` (space-separated object classes)
    <root>/classes.json                        class names, background index, void index
    <root>/README.md                           the generator parameters

The content is designed so that Class Activation Maps (CAMs) of a classifier trained on the
image-level labels are *partial* and *noisy*:

* every object class has a distinctively coloured **part** (a cap, a band, the apex, one
  arm...: 25-40 % of the object) on one side of its body, while body colours overlap between
  classes and with the background; a classifier fires mostly on the part, so CAMs are centred
  off the object and cover it only in part;
* five classes co-occur (with probability ``context_prob``) with a class-specific **context**
  region (water, brick wall, night sky, grass, tiles) that is labelled background, so CAMs leak
  onto it; contexts also appear without their class (``context_false_prob``);
* the background is textured, and **distractors** (blobs and lines in object colours, some with
  object textures, a few tiny spots in part colours) are labelled background;
* later objects occlude earlier ones, and a thin void band (255) surrounds visible objects.

The proportions are calibrated so that the default run's CAMs score about 42 mIoU on the weak
images, in the range of real CAMs (VOC: about 48, MSRC-21 here: 43); the first version, with
small parts, frequent contexts and heavy clutter, gave CAMs of 15 mIoU that sat on the contexts
(docs/benchmarks.md, "Embedded default").

Every image holds 1 to ``max_objects`` objects; randomness comes only from
``np.random.default_rng`` seeded per image from ``(seed, split, index)``, so the same seed gives
byte-identical files and adding images does not reshuffle existing ones.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp()) / "synthetic"
>>> generate_dataset(root, seed=0, n_train=4, n_val=2, size_range=(112, 160))
>>> sorted(p.name for p in root.iterdir())  # doctest: +NORMALIZE_WHITESPACE
['.pixelnoise-output', 'ImageSets', 'JPEGImages', 'README.md', 'SegmentationClass',
 'classes.json', 'image_labels.csv']
>>> (root / "ImageSets" / "Segmentation" / "val.txt").read_text().split()
['syn_v00000', 'syn_v00001']
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pixelnoise.atomic import atomic_path
from pixelnoise.data.palette import save_label_png
from pixelnoise.errors import ConfigError

__all__ = ["CLASS_NAMES", "BACKGROUND", "VOID", "generate_dataset", "render_sample"]

BACKGROUND = 0
VOID = 255

Array = np.ndarray
_TAU = 2.0 * np.pi


# --------------------------------------------------------------------------------------------
# Shapes and parts, in object-local coordinates (u, v): the object fits in the unit disc.
# --------------------------------------------------------------------------------------------


def _polar(u: Array, v: Array) -> tuple[Array, Array]:
    return np.hypot(u, v), np.arctan2(v, u)


def _disc(u: Array, v: Array) -> Array:
    return u * u + v * v <= 1.0


def _disc_part(u: Array, v: Array) -> Array:  # cap on the +u side, 37 % of the area
    return u >= 0.2


def _box(u: Array, v: Array) -> Array:
    return (np.abs(u) <= 0.95) & (np.abs(v) <= 0.62)


def _box_part(u: Array, v: Array) -> Array:  # band along one long edge, 40 %
    return v <= -0.12


def _wedge(u: Array, v: Array) -> Array:  # isosceles triangle, apex at v = -1
    return (v >= -1.0) & (v <= 0.75) & (np.abs(u) <= 0.9 * (v + 1.0) / 1.75)


def _wedge_part(u: Array, v: Array) -> Array:  # the apex half, 36 %
    return v <= 0.05


def _star_radius(theta: Array) -> Array:
    t = np.mod(5.0 * (theta + np.pi / 2.0) / _TAU, 1.0)  # one arm points to -v
    return 0.42 + 0.58 * np.abs(2.0 * t - 1.0)


def _star(u: Array, v: Array) -> Array:
    r, theta = _polar(u, v)
    return r <= _star_radius(theta)


def _star_part(u: Array, v: Array) -> Array:  # one arm and its neighbours' flanks, 33 %
    r, theta = _polar(u, v)
    phi = np.mod(theta + np.pi / 2.0 + np.pi, _TAU) - np.pi
    return (np.abs(phi) <= np.pi / 2.5) & (r >= 0.3)


def _ring(u: Array, v: Array) -> Array:
    r = np.hypot(u, v)
    return (r >= 0.55) & (r <= 1.0)


def _ring_part(u: Array, v: Array) -> Array:  # an arc around +u, 32 %
    return np.abs(np.arctan2(v, u)) <= 1.0


def _cross(u: Array, v: Array) -> Array:
    au, av = np.abs(u), np.abs(v)
    return ((au <= 0.3) & (av <= 0.95)) | ((av <= 0.3) & (au <= 0.95))


def _cross_part(u: Array, v: Array) -> Array:  # one arm, 25 %
    return u >= 0.25


def _crescent(u: Array, v: Array) -> Array:
    return (u * u + v * v <= 1.0) & ((u - 0.5) ** 2 + v * v > 0.8**2)


def _crescent_part(u: Array, v: Array) -> Array:  # one horn, 39 %
    return v <= -0.25


# --------------------------------------------------------------------------------------------
# Textures: functions of local coordinates returning values in [-1, 1].
# --------------------------------------------------------------------------------------------


def _stripes(u: Array, v: Array, angle: float, period: float, phase: float) -> Array:
    t = u * np.cos(angle) + v * np.sin(angle)
    return np.tanh(4.0 * np.sin(_TAU * t / period + phase))


def _tex_hstripes(u: Array, v: Array, rng: np.random.Generator) -> Array:
    return _stripes(u, v, np.pi / 2.0, 0.38, rng.uniform(0, _TAU))


def _tex_vstripes(u: Array, v: Array, rng: np.random.Generator) -> Array:
    return _stripes(u, v, 0.0, 0.55, rng.uniform(0, _TAU))


def _tex_diagonal(u: Array, v: Array, rng: np.random.Generator) -> Array:
    return _stripes(u, v, np.pi / 4.0, 0.3, rng.uniform(0, _TAU))


def _tex_checker(u: Array, v: Array, rng: np.random.Generator) -> Array:
    p = 0.33
    a = np.sin(np.pi * u / p + rng.uniform(0, _TAU))
    b = np.sin(np.pi * v / p + rng.uniform(0, _TAU))
    return np.sign(a * b)


def _tex_dots(u: Array, v: Array, rng: np.random.Generator) -> Array:
    p = 0.34
    du = np.mod(u + rng.uniform(0, p), p) - p / 2.0
    dv = np.mod(v + rng.uniform(0, p), p) - p / 2.0
    return np.where(du * du + dv * dv <= 0.1**2, 1.0, -0.4)


def _tex_gradient(u: Array, v: Array, rng: np.random.Generator) -> Array:
    return np.clip(u * rng.choice([-1.0, 1.0]), -1.0, 1.0)


def _tex_noise(u: Array, v: Array, rng: np.random.Generator) -> Array:
    return np.clip(0.7 * rng.standard_normal(u.shape, dtype=np.float32), -1.0, 1.0)


_TEXTURES: dict[str, Callable[[Array, Array, np.random.Generator], Array]] = {
    "horizontal stripes": _tex_hstripes,
    "checker": _tex_checker,
    "dots": _tex_dots,
    "gradient": _tex_gradient,
    "diagonal stripes": _tex_diagonal,
    "noise": _tex_noise,
    "vertical stripes": _tex_vstripes,
}


@dataclass(frozen=True)
class ClassSpec:
    """How one object class looks: shape, discriminative part, texture, colours, context."""

    name: str
    shape: Callable[[Array, Array], Array]
    part: Callable[[Array, Array], Array]
    texture: str
    body_rgb: tuple[int, int, int]
    part_rgb: tuple[int, int, int]
    context: str | None


# Body colours are deliberately close to each other (and to the background distribution): colour
# alone cannot separate the classes. Part colours are saturated and distinct.
CLASS_SPECS: tuple[ClassSpec, ...] = (
    ClassSpec(
        "disc", _disc, _disc_part, "horizontal stripes", (150, 128, 108), (215, 40, 40), "water"
    ),
    ClassSpec("box", _box, _box_part, "checker", (128, 138, 120), (40, 195, 205), "brick"),
    ClassSpec("wedge", _wedge, _wedge_part, "dots", (145, 122, 128), (235, 215, 40), None),
    ClassSpec("star", _star, _star_part, "gradient", (136, 134, 134), (205, 50, 195), "sky"),
    ClassSpec(
        "ring", _ring, _ring_part, "diagonal stripes", (142, 120, 112), (60, 185, 60), "grass"
    ),
    ClassSpec("cross", _cross, _cross_part, "noise", (124, 130, 142), (245, 135, 25), None),
    ClassSpec(
        "crescent",
        _crescent,
        _crescent_part,
        "vertical stripes",
        (152, 140, 118),
        (45, 75, 215),
        "tiles",
    ),
)

#: Class names; index 0 is the background, indices 1.. are the object classes.
CLASS_NAMES: tuple[str, ...] = ("background",) + tuple(spec.name for spec in CLASS_SPECS)

_BODY_SPREAD = 20.0  # per-channel std of an object's body colour around its class mean
_BG_MEAN = np.array([138.0, 130.0, 122.0], dtype=np.float32)
_BG_SPREAD = 24.0
_SPOT_PROB = 0.05  # fraction of distractors that are tiny spots in some class's part colour


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _grid(h: int, w: int) -> tuple[Array, Array]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs + 0.5, ys + 0.5


def _lowfreq(rng: np.random.Generator, h: int, w: int, channels: int) -> Array:
    """Smooth noise of unit-ish amplitude, shape (h, w, channels)."""
    gh, gw = int(rng.integers(2, 6)), int(rng.integers(2, 6))
    coarse = rng.normal(0.0, 1.0, (gh, gw, channels)).astype(np.float32)
    out = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return out.reshape(h, w, channels)


def _background(rng: np.random.Generator, h: int, w: int) -> Array:
    base = _BG_MEAN + rng.normal(0.0, _BG_SPREAD, 3).astype(np.float32)
    img = base + _lowfreq(rng, h, w, 3) * rng.uniform(5.0, 14.0)
    if rng.random() < 0.5:  # a faint random texture, so texture alone is not "object"
        xs, ys = _grid(h, w)
        tex = _stripes(xs, ys, rng.uniform(0, np.pi), rng.uniform(6.0, 16.0), rng.uniform(0, _TAU))
        img *= (1.0 + 0.07 * tex)[..., None]
    return img


def _band(rng: np.random.Generator, h: int, w: int, side: str) -> Array:
    """Boolean mask of a band with a wavy inner edge along one side of the image."""
    xs, ys = _grid(h, w)
    if side in ("left", "right"):
        xs, ys, h, w = ys, xs, w, h  # transpose the problem
    depth = rng.uniform(0.18, 0.32) * h
    wave = rng.uniform(1.0, 0.06 * h) * np.sin(_TAU * xs / rng.uniform(25, 70) + rng.uniform(0, 7))
    edge = depth + wave
    return (h - ys <= edge) if side in ("bottom", "right") else (ys <= edge)


def _draw_context(img: Array, rng: np.random.Generator, kind: str) -> None:
    """Paint a class-specific context region (labelled background) into ``img``."""
    h, w = img.shape[:2]
    xs, ys = _grid(h, w)
    jitter = rng.normal(0.0, 12.0, 3).astype(np.float32)
    if kind == "water":
        mask = _band(rng, h, w, "bottom")
        tex = np.tanh(3.0 * np.sin(_TAU * (ys + 2.5 * np.sin(xs / 6.0)) / 7.0))
        colour = (np.array([60, 105, 160], np.float32) + jitter) * (1.0 + 0.15 * tex)[..., None]
    elif kind == "grass":
        mask = _band(rng, h, w, "bottom")
        streaks = cv2.resize(rng.normal(0, 1, (max(h // 8, 1), w)).astype(np.float32), (w, h))
        colour = (np.array([85, 135, 55], np.float32) + jitter) * (1.0 + 0.2 * np.tanh(streaks))[
            ..., None
        ]
    elif kind == "sky":
        mask = _band(rng, h, w, "top")
        colour = np.broadcast_to(np.array([30, 35, 72], np.float32) + jitter, (h, w, 3)).copy()
        colour += _lowfreq(rng, h, w, 1) * 6.0
        colour[rng.random((h, w)) < 0.012] = (230, 228, 200)
    elif kind == "brick":
        mask = _band(rng, h, w, "top")
        row = np.floor(ys / 8.0)
        mortar = (np.mod(ys, 8.0) < 1.5) | (np.mod(xs + 8.0 * np.mod(row, 2.0), 16.0) < 1.5)
        colour = np.broadcast_to(np.array([150, 75, 55], np.float32) + jitter, (h, w, 3)).copy()
        colour[mortar] = (200, 190, 170)
    elif kind == "tiles":
        mask = _band(rng, h, w, "left" if rng.random() < 0.5 else "right")
        grid = (np.mod(xs, 12.0) < 1.5) | (np.mod(ys, 12.0) < 1.5)
        colour = np.broadcast_to(np.array([165, 165, 172], np.float32) + jitter, (h, w, 3)).copy()
        colour[grid] = (70, 70, 80)
    else:  # pragma: no cover - CLASS_SPECS only names the kinds above
        raise ValueError(f"unknown context {kind!r}")
    img[mask] = colour[mask]


_CONTEXTS = ("water", "brick", "sky", "grass", "tiles")


def _draw_distractors(img: Array, rng: np.random.Generator, n: int) -> None:
    """Small blobs and lines in object-like colours (and a few part-coloured spots)."""
    h, w = img.shape[:2]
    short = min(h, w)
    xs, ys = _grid(h, w)
    for _ in range(n):
        spec = CLASS_SPECS[int(rng.integers(len(CLASS_SPECS)))]
        kind = rng.random()
        layer = np.zeros((h, w), np.uint8)
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if kind < _SPOT_PROB:  # tiny spot in a part colour: a false trigger for the classifier
            colour = np.array(spec.part_rgb, np.float32) + rng.normal(0.0, 12.0, 3)
            cv2.circle(layer, centre, int(rng.integers(2, 5)), 1, -1)
        else:
            colour = np.array(spec.body_rgb, np.float32) + rng.normal(0.0, _BODY_SPREAD, 3)
            if kind < 0.6:
                axes = (
                    int(rng.uniform(0.03, 0.09) * short) + 1,
                    int(rng.uniform(0.03, 0.09) * short) + 1,
                )
                cv2.ellipse(layer, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
            else:
                end = (int(rng.integers(0, w)), int(rng.integers(0, h)))
                cv2.line(layer, centre, end, 1, int(rng.integers(1, 4)))
        sel = layer.astype(bool)
        if kind >= _SPOT_PROB and rng.random() < 0.2:  # borrow an object texture
            tex = _TEXTURES[spec.texture](xs / 12.0, ys / 12.0, rng)
            img[sel] = colour * (1.0 + 0.25 * tex[sel])[:, None]
        else:
            img[sel] = colour


@dataclass
class _Placed:
    class_index: int
    inside: Array
    part: Array
    u: Array
    v: Array
    area: int


def _place_object(
    rng: np.random.Generator, class_index: int, h: int, w: int, scale_range: tuple[float, float]
) -> _Placed:
    spec = CLASS_SPECS[class_index - 1]
    short = min(h, w)
    radius = 0.5 * rng.uniform(*scale_range) * short
    sx = radius * float(np.exp(rng.normal(0.0, 0.12)))
    sy = radius * float(np.exp(rng.normal(0.0, 0.12)))
    margin = 0.75 * max(sx, sy)
    cx = rng.uniform(min(margin, w / 2.0), max(w - margin, w / 2.0))
    cy = rng.uniform(min(margin, h / 2.0), max(h - margin, h / 2.0))
    theta = rng.uniform(0.0, _TAU)
    xs, ys = _grid(h, w)
    dx, dy = xs - cx, ys - cy
    c, s = np.cos(theta), np.sin(theta)
    u = (c * dx + s * dy) / sx
    v = (-s * dx + c * dy) / sy
    inside = spec.shape(u, v)
    part = inside & spec.part(u, v)
    return _Placed(class_index, inside, part, u, v, int(inside.sum()))


def _paint_object(img: Array, rng: np.random.Generator, obj: _Placed, bg_colour: Array) -> None:
    spec = CLASS_SPECS[obj.class_index - 1]
    mean = np.array(spec.body_rgb, np.float32)
    body = mean + rng.normal(0.0, _BODY_SPREAD, 3)
    for _ in range(10):  # keep the body visibly different from the local background
        if np.abs(body - bg_colour).sum() >= 60.0:
            break
        body = mean + rng.normal(0.0, _BODY_SPREAD, 3)
    sel = obj.inside
    tex = _TEXTURES[spec.texture](obj.u[sel], obj.v[sel], rng)
    amp = rng.uniform(0.18, 0.32)
    img[sel] = body.astype(np.float32) * (1.0 + amp * tex)[:, None]
    part = obj.part
    n_part = int(part.sum())
    if n_part:
        colour = np.array(spec.part_rgb, np.float32) + rng.normal(0.0, 12.0, 3)
        img[part] = colour + 6.0 * rng.standard_normal((n_part, 3), dtype=np.float32)


def render_sample(
    seed: int,
    split: str,
    index: int,
    *,
    size_range: tuple[int, int] = (112, 160),
    max_objects: int = 3,
    scale_range: tuple[float, float] = (0.42, 0.64),
    context_prob: float = 0.35,
    context_false_prob: float = 0.15,
    n_distractors: tuple[int, int] = (2, 6),
    void_border: int = 1,
) -> tuple[Array, Array]:
    """Render one image: returns ``(rgb uint8 HxWx3, labels uint8 HxW)``.

    ``split`` is ``"train"`` or ``"val"``; the image depends only on ``(seed, split, index)``
    and the keyword arguments (see :func:`generate_dataset` for their meaning).

    >>> img, lab = render_sample(0, "train", 3)
    >>> img.shape[:2] == lab.shape, img.dtype.name, lab.dtype.name
    (True, 'uint8', 'uint8')
    """
    split_code = {"train": 0, "val": 1}[split]
    rng = np.random.default_rng([int(seed), split_code, int(index)])
    h = int(rng.integers(size_range[0], size_range[1] + 1))
    w = int(rng.integers(size_range[0], size_range[1] + 1))

    n_obj = int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))
    n_obj = max(1, min(n_obj, max_objects))
    classes = [int(c) for c in rng.integers(1, len(CLASS_NAMES), n_obj)]

    img = _background(rng, h, w)
    bg_colour = img.reshape(-1, 3).mean(axis=0)
    present_contexts = {CLASS_SPECS[c - 1].context for c in classes} - {None}
    for kind in _CONTEXTS:  # draw every random number, whatever is present (stable streams)
        draw = rng.random()
        threshold = context_prob if kind in present_contexts else context_false_prob
        if draw < threshold:
            _draw_context(img, rng, kind)
    _draw_distractors(img, rng, int(rng.integers(n_distractors[0], n_distractors[1] + 1)))

    instance = np.zeros((h, w), np.uint8)  # 0 = background, k = k-th placed object
    placed: list[_Placed] = []
    for class_index in classes:
        for attempt in range(25):
            obj = _place_object(rng, class_index, h, w, scale_range)
            if not placed and (obj.area >= 40 or (attempt == 24 and obj.area > 0)):
                break  # the first object is always placed
            if obj.area < 40:
                continue
            # every earlier object must keep at least half of its own area visible
            if all(
                int(((instance == k + 1) & ~obj.inside).sum()) >= 0.5 * prev.area
                for k, prev in enumerate(placed)
            ):
                break
        else:
            continue  # could not place it without hiding others: drop this object
        _paint_object(img, rng, obj, bg_colour)
        placed.append(obj)
        instance[obj.inside] = len(placed)

    # global photometric effects: slight blur, contrast/brightness jitter, sensor noise
    img = cv2.GaussianBlur(img, (3, 3), 0.6)
    img = (img - 128.0) * rng.uniform(0.88, 1.12) + 128.0 + rng.normal(0.0, 6.0)
    img += 5.0 * rng.standard_normal(img.shape, dtype=np.float32)
    rgb = np.clip(np.rint(img), 0, 255).astype(np.uint8)

    lut = np.array([BACKGROUND] + [p.class_index for p in placed], np.uint8)
    labels = lut[instance]
    if void_border > 0:
        kernel = np.ones((2 * void_border + 1, 2 * void_border + 1), np.uint8)
        edge = cv2.dilate(instance, kernel) != cv2.erode(instance, kernel)
        labels[edge & (instance > 0)] = VOID
    return rgb, labels


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def _check(name: str, ok: bool, what: str) -> None:
    if not ok:
        raise ConfigError(f"synthetic dataset: {name} {what}")


def _readme(params: dict) -> str:
    lines = [
        "# Synthetic segmentation dataset",
        "",
        "Generated by `pixelnoise.data.synthetic.generate_dataset` (deterministic: the same",
        "parameters give byte-identical files). VOC layout: `JPEGImages/*.jpg`,",
        "`SegmentationClass/*.png` (palette PNG, value = class index, 255 = void),",
        "`ImageSets/Segmentation/{train,val}.txt`, `image_labels.csv`, `classes.json`.",
        "",
        "## Parameters",
        "",
    ]
    lines += [f"- `{key}`: {value!r}" for key, value in params.items()]
    lines += [
        "",
        "## Classes",
        "",
        "| index | name | shape | body texture | part colour (RGB) | context |",
        "|---|---|---|---|---|---|",
        "| 0 | background | - | textured, with clutter and contexts | - | - |",
    ]
    for i, spec in enumerate(CLASS_SPECS, start=1):
        lines.append(
            f"| {i} | {spec.name} | {spec.shape.__name__.strip('_')} | {spec.texture} "
            f"| {spec.part_rgb} | {spec.context or '-'} |"
        )
    lines += [
        "",
        "Each object has a small part in a distinctive colour; body colours overlap between",
        "classes. Contexts are background regions that co-occur with their class with",
        "probability `context_prob` (and appear without it with `context_false_prob`).",
        "Distractor blobs/lines are background. Objects occlude each other; a void band of",
        "`void_border` pixels surrounds visible objects.",
        "",
    ]
    return "\n".join(lines)


def generate_dataset(
    root: str | os.PathLike,
    *,
    seed: int = 0,
    n_train: int,
    n_val: int,
    size_range: tuple[int, int],
    max_objects: int = 3,
    scale_range: tuple[float, float] = (0.42, 0.64),
    context_prob: float = 0.35,
    context_false_prob: float = 0.15,
    n_distractors: tuple[int, int] = (2, 6),
    void_border: int = 1,
    jpeg_quality: int = 95,
) -> None:
    """Write a synthetic VOC-layout dataset to ``root`` atomically (replacing it if present).

    Args:
        root: output directory; built in a temporary sibling and renamed at the end.
        seed: base seed; image ``i`` of a split uses ``default_rng([seed, split, i])``.
        n_train, n_val: number of images in ``train.txt`` (``syn_00000``...) and ``val.txt``
            (``syn_v00000``...).
        size_range: inclusive range of image height and width (drawn independently).
            ``n_train``, ``n_val`` and ``size_range`` are config keys (``dataset.synthetic``).
        max_objects: at most this many objects (1-3 drawn) per image.
        scale_range: object diameter as a fraction of the image's short side.
        context_prob: probability that a present class brings its context region.
        context_false_prob: probability that a context appears without its class.
        n_distractors: inclusive range of background distractors per image.
        void_border: width in pixels of the void (255) band inside object boundaries; 0 = none.
        jpeg_quality: JPEG quality of the images.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "syn"
    >>> generate_dataset(root, seed=1, n_train=3, n_val=1, size_range=(48, 64))
    >>> (root / "image_labels.csv").read_text().splitlines()[0]
    'image_id,labels'
    """
    _check("n_train", isinstance(n_train, int) and n_train >= 1, "must be an integer >= 1")
    _check("n_val", isinstance(n_val, int) and n_val >= 0, "must be an integer >= 0")
    lo, hi = (int(x) for x in size_range)
    _check("size_range", 32 <= lo <= hi, "must be (lo, hi) with 32 <= lo <= hi")
    _check("max_objects", 1 <= max_objects <= 3, "must be 1, 2 or 3")
    _check(
        "scale_range",
        0.05 <= scale_range[0] <= scale_range[1] <= 0.9,
        "must be (lo, hi) with 0.05 <= lo <= hi <= 0.9",
    )
    _check("context_prob", 0.0 <= context_prob <= 1.0, "must be in [0, 1]")
    _check("context_false_prob", 0.0 <= context_false_prob <= 1.0, "must be in [0, 1]")
    _check("n_distractors", 0 <= n_distractors[0] <= n_distractors[1], "must be 0 <= lo <= hi")
    _check("void_border", 0 <= void_border <= 5, "must be in 0..5")
    _check("jpeg_quality", 1 <= jpeg_quality <= 100, "must be in 1..100")

    render_kwargs = dict(
        size_range=(lo, hi),
        max_objects=max_objects,
        scale_range=tuple(float(x) for x in scale_range),
        context_prob=float(context_prob),
        context_false_prob=float(context_false_prob),
        n_distractors=tuple(int(x) for x in n_distractors),
        void_border=int(void_border),
    )
    splits = {
        "train": [f"syn_{i:05d}" for i in range(n_train)],
        "val": [f"syn_v{i:05d}" for i in range(n_val)],
    }
    with atomic_path(root, directory=True) as tmp:
        tmp = Path(tmp)
        for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        label_rows: list[tuple[str, str]] = []
        for split, ids in splits.items():
            for index, image_id in enumerate(ids):
                rgb, labels = render_sample(seed, split, index, **render_kwargs)
                Image.fromarray(rgb, mode="RGB").save(
                    tmp / "JPEGImages" / f"{image_id}.jpg", format="JPEG", quality=jpeg_quality
                )
                save_label_png(tmp / "SegmentationClass" / f"{image_id}.png", labels)
                present = sorted(int(c) for c in np.unique(labels) if c not in (BACKGROUND, VOID))
                if not present:  # pragma: no cover - the first object is always placed
                    raise RuntimeError(f"synthetic image {image_id} has no visible object")
                label_rows.append((image_id, " ".join(str(c) for c in present)))
            (tmp / "ImageSets" / "Segmentation" / f"{split}.txt").write_text(
                "".join(f"{i}\n" for i in ids)
            )
        label_rows.sort()
        (tmp / "image_labels.csv").write_text(
            "image_id,labels\n" + "".join(f"{i},{labs}\n" for i, labs in label_rows)
        )
        classes = {"classes": list(CLASS_NAMES), "background": BACKGROUND, "void": VOID}
        (tmp / "classes.json").write_text(json.dumps(classes, indent=2) + "\n")
        params = {
            "seed": seed,
            "n_train": n_train,
            "n_val": n_val,
            **render_kwargs,
            "jpeg_quality": jpeg_quality,
        }
        (tmp / "README.md").write_text(_readme(params))
