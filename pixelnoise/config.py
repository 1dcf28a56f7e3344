"""The configuration schema as the one source of default values.

``workflow/schemas/config.schema.yaml`` documents every configuration key with its default;
config/config.yaml spells out the same values. Code that needs a default (the command line,
tests, benchmarks) reads it here instead of repeating the number. Light: stdlib and yaml only.
"""

from __future__ import annotations

import copy
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
def _schema_defaults() -> dict[str, Any]:
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    return _defaults(schema["properties"])


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
