"""The method registry: every method declared once, with what it consumes and produces.

A *method* is anything a run can list by name: a correction run (GNN node probabilities), a
pseudo-label method (label maps of the weak images) or a segmentation method (a checkpoint).
The workflow derives its wildcards, rule inputs and rerun triggers from these entries, the
stages load the implementing module through :meth:`Method.implementation` (lazily, so label and
table jobs never import torch), and reports read ``reads_weak_masks`` from here.

Artifacts a method may consume, by name: ``cams``, ``losses``, ``theta``, ``graphs``,
``grid_graphs``, ``cams_<classifier>_<scale>`` (see :func:`scale_cams`),
``clean_model``, ``strong_masks``, ``weak_masks`` (upper bounds only), and the outputs of other
methods as ``"<produces>:<name>"``, e.g. ``"node_probabilities:detect_gat"``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType

from pixelnoise.errors import ConfigError

NODE_PROBABILITIES = "node_probabilities"
LABEL_MAPS = "label_maps"
CHECKPOINT = "checkpoint"
PRODUCTS = (NODE_PROBABILITIES, LABEL_MAPS, CHECKPOINT)
#: CAMs of one classifier at one scale, kept apart (Fan et al. Sec. 4.3-4.4): the classifier
#: ``main`` (config ``classifier``) or ``second`` (``second_classifier``), scale tag -> scale.
CAM_CLASSIFIERS = ("main", "second")
CAM_SCALES = {"s100": 1.0, "s075": 0.75, "s050": 0.5}


def scale_cams(classifier: str, tag: str) -> str:
    """The artifact name of one classifier's CAMs at one scale, e.g. ``cams_second_s075``."""
    return f"cams_{classifier}_{tag}"


#: Artifacts of the pipeline itself (not of a method).
BASE_ARTIFACTS = frozenset(
    {"cams", "losses", "theta", "graphs", "grid_graphs", "clean_model", "strong_masks",
     "weak_masks", *(scale_cams(c, t) for c in CAM_CLASSIFIERS for t in CAM_SCALES)}
)  # fmt: skip
#: What each product is called in messages and config keys.
CONFIG_KEYS = {
    NODE_PROBABILITIES: "correction runs (implied by `methods`)",
    LABEL_MAPS: "methods",
    CHECKPOINT: "segment.methods",
}


@dataclass(frozen=True)
class Method:
    """One registry entry.

    ``stage``: the rule that produces it. ``module``: the module implementing it, imported only
    when a stage needs it. ``options``: family-specific settings (e.g. a correction run's
    supervision source and GNN). ``figure``: its column title in the qualitative grid, or None.
    ``uses``: other modules its code loads by name (e.g. its supervision source's), which its
    rerun trigger covers too (pixelnoise/codehash.py).
    """

    name: str
    family: str
    produces: str
    stage: str
    consumes: tuple[str, ...]
    module: str
    reads_weak_masks: bool = False
    crf: bool = False
    options: Mapping[str, object] = field(default_factory=dict)
    figure: str | None = None
    description: str = ""
    uses: tuple[str, ...] = ()

    def __post_init__(self):
        if self.produces not in PRODUCTS:
            raise ValueError(f"{self.name}: produces {self.produces!r}, not one of {PRODUCTS}")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def key(self) -> str:
        """How other methods name this one's output in ``consumes``."""
        return f"{self.produces}:{self.name}"

    def implementation(self) -> ModuleType:
        return importlib.import_module(self.module)

    def upstream(self) -> list[str]:
        """Keys of the methods whose outputs this one consumes."""
        return [c for c in self.consumes if c not in BASE_ARTIFACTS]


class Registry:
    """All methods, looked up by what they produce and their name."""

    def __init__(self, methods: Iterable[Method]):
        self._methods: dict[str, Method] = {}
        for method in methods:
            if method.key in self._methods:
                raise ValueError(f"method {method.key} is declared twice")
            self._methods[method.key] = method
        for method in self._methods.values():
            for key in method.upstream():
                if key not in self._methods:
                    raise ValueError(f"{method.key} consumes {key}, which no method produces")

    def get(self, name: str, produces: str) -> Method:
        """The method ``name`` producing ``produces``; unknown names are a ConfigError."""
        method = self._methods.get(f"{produces}:{name}")
        if method is None:
            raise ConfigError(
                f"unknown method {name!r} (config key `{CONFIG_KEYS[produces]}`); "
                f"choose one of {', '.join(self.names(produces))}"
            )
        return method

    def names(self, produces: str, stage: str | None = None) -> list[str]:
        """Names of the methods producing ``produces`` (made by ``stage``), in declared order."""
        return [
            m.name
            for m in self._methods.values()
            if m.produces == produces and (stage is None or m.stage == stage)
        ]

    def __iter__(self):
        return iter(self._methods.values())

    def reads_weak_masks(self, name: str, produces: str) -> bool:
        """Whether the method, or anything it is made from, reads masks of weak images."""
        method = self.get(name, produces)
        if method.reads_weak_masks or "weak_masks" in method.consumes:
            return True
        return any(self.reads_weak_masks(*reversed(key.split(":", 1))) for key in method.upstream())

    def figure_methods(self, methods: Iterable[str]) -> list[str]:
        """The listed pseudo-label methods that have a column in the qualitative grid, in
        registry (pipeline) order."""
        listed = set(methods)
        return [
            m.name
            for m in self._methods.values()
            if m.produces == LABEL_MAPS and m.name in listed and m.figure
        ]

    def lineage(self, name: str, produces: str) -> list[Method]:
        """The method and every method it is made from, upstream first, each once."""
        seen: dict[str, Method] = {}

        def visit(method: Method) -> None:
            for key in method.upstream():
                if key not in seen:
                    visit(self._methods[key])
            seen.setdefault(method.key, method)

        visit(self.get(name, produces))
        return list(seen.values())


def input_name(key: str) -> str:
    """A rule's input name for an artifact key (Snakemake names must be identifiers).

    >>> input_name("node_probabilities:detect_gat"), artifact_key("node_probabilities__detect_gat")
    ('node_probabilities__detect_gat', 'node_probabilities:detect_gat')
    """
    return key.replace(":", "__")


def artifact_key(name: str) -> str:
    """The artifact key of a rule's input name (inverse of :func:`input_name`)."""
    return name.replace("__", ":", 1)
