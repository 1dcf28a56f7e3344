"""The configuration schema as the one source of default values.

``workflow/schemas/config.schema.yaml`` documents every configuration key with its default;
config/config.yaml spells out the same values. Code that needs a default (the command line,
tests, benchmarks) reads it here instead of repeating the number. Light: stdlib and yaml only.
"""

from __future__ import annotations

import copy
import difflib
import functools
from pathlib import Path
from typing import Any

import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml"


def _defaults(properties: dict[str, Any]) -> dict[str, Any]:
    """Defaults of a schema ``properties`` mapping, recursing into objects without a default."""
    out: dict[str, Any] = {}
    for key, spec in properties.items():
        if not isinstance(spec, dict):
            continue
        if "default" in spec:
            out[key] = spec["default"]
        elif isinstance(spec.get("properties"), dict):
            out[key] = _defaults(spec["properties"])
    return out


@functools.cache
def _schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


@functools.cache
def _schema_defaults() -> dict[str, Any]:
    return _defaults(_schema()["properties"])


def schema_defaults() -> dict[str, Any]:
    """The nested defaults of the config schema (a fresh copy each call, safe to modify).

    Keys without a default (``dataset.kind``, ``dataset.root``) are absent.

    >>> defaults = schema_defaults()
    >>> defaults["correct"]["epochs"]
    20
    >>> defaults["split"]["strong"]
    {'count': 16}
    >>> defaults["correct"]["epochs"] = 0
    >>> schema_defaults()["correct"]["epochs"]
    20
    """
    return copy.deepcopy(_schema_defaults())


def unknown_key(config: dict, properties: dict | None = None, prefix: str = "") -> str | None:
    """One line naming the first configuration key the schema does not know, with the closest
    valid key, or None. (The schema validator's own message buries it under the schema.)

    >>> unknown_key({"classifer": {"epochs": 1}})
    'unknown config key `classifer`: did you mean `classifier`?'
    >>> unknown_key({"correct": {"epoch": 3}})
    'unknown config key `correct.epoch`: did you mean `correct.epochs`?'
    >>> unknown_key({"seed": 1, "correct": {"epochs": 3}}) is None
    True
    """
    properties = _schema()["properties"] if properties is None else properties
    for key, value in config.items():
        spec = properties.get(key)
        if spec is None:
            close = difflib.get_close_matches(str(key), list(properties), n=1, cutoff=0.6)
            hint = (
                f": did you mean `{prefix}{close[0]}`?"
                if close
                else (f"; valid keys here: {', '.join(sorted(properties))}")
            )
            return f"unknown config key `{prefix}{key}`{hint}"
        children = spec.get("properties") if isinstance(spec, dict) else None
        if isinstance(value, dict) and isinstance(children, dict):
            found = unknown_key(value, children, f"{prefix}{key}.")
            if found:
                return found
    return None


def strong_split_conflict(config: dict) -> str | None:
    """One line when ``split.strong`` sets more than one of count, fraction and list (config
    files are merged key by key, so a list over the default count keeps both), or None.
    (The schema's oneOf check would print every branch of the schema.)

    >>> print(strong_split_conflict({"split": {"strong": {"count": 16, "list": "d_c.txt"}}}))
    ... # doctest: +NORMALIZE_WHITESPACE
    split.strong sets both count and list: set exactly one and the others to null,
    e.g. `split: {strong: {count: null, fraction: null, list: d_c.txt}}`
    >>> strong_split_conflict({"split": {"strong": {"count": None, "list": "d_c.txt"}}}) is None
    True
    """
    strong = (config.get("split") or {}).get("strong")
    if not isinstance(strong, dict):
        return None
    given = [key for key in ("count", "fraction", "list") if strong.get(key) is not None]
    if len(given) < 2:
        return None
    keep = given[-1]
    nulls = ", ".join(f"{key}: null" for key in ("count", "fraction", "list") if key != keep)
    return (
        f"split.strong sets both {' and '.join(given)}: set exactly one and the others to "
        f"null, e.g. `split: {{strong: {{{nulls}, {keep}: {strong[keep]}}}}}`"
    )


CONFIG_PATH = Path(__file__).resolve().parents[1] / "config/config.yaml"


def merge_into(config: dict, overlay: dict) -> dict:
    """Merge ``overlay`` into ``config`` key by key, as Snakemake merges ``--configfile``s:
    nested mappings are merged, any other value replaces the one before.

    >>> merge_into({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"c": 3}, "d": [2]})
    {'a': {'b': 1, 'c': 3}, 'd': [2]}
    """
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            merge_into(config[key], value)
        else:
            config[key] = value
    return config


def load_config(overlays: list[str | Path] = ()) -> dict:
    """config/config.yaml with each overlay file merged over it in order (for scripts that run
    stages outside the workflow, e.g. the benchmarks)."""
    config: dict = {}
    for path in [CONFIG_PATH, *overlays]:
        merge_into(config, yaml.safe_load(Path(path).read_text()) or {})
    return config
