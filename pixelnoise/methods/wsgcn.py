"""WSGCN (Pan et al.): a GCN per image trained on partial CAM labels with entropy and Laplacian
losses (eq. 2-7), then the dense CRF with WSGCN's settings (the config's ``wsgcn`` section).

Names: ``wsgcn`` is the paper's system (both losses), ``wsgcn_ce`` / ``wsgcn_ent`` /
``wsgcn_lp`` the Table 2 ablations, ``wsgcn_grid`` the system on a pixel grid instead of
superpixels, ``detect_wsgcn`` WSGCN's losses on Yi et al.'s detected clean labels; each with
``_crf`` after it. ``wsgcn_seeds`` are the partial labels themselves (scored for precision).
"""

from __future__ import annotations

from collections.abc import Iterator

from pixelnoise.methods.registry import LABEL_MAPS, NODE_PROBABILITIES, Method
from pixelnoise.supervision import SOURCES

FAMILY = "wsgcn"
SETTINGS = "wsgcn"  # the config section every entry of the family reads
CRF_SUFFIX = "_crf"
#: name -> (supervision source, entropy term, Laplacian term, graph artifact)
RUNS = {
    "wsgcn_ce": ("wsgcn_seeds", False, False, "graphs"),
    "wsgcn_ent": ("wsgcn_seeds", True, False, "graphs"),
    "wsgcn_lp": ("wsgcn_seeds", False, True, "graphs"),
    "wsgcn": ("wsgcn_seeds", True, True, "graphs"),
    "wsgcn_grid": ("wsgcn_seeds", True, True, "grid_graphs"),
    "detect_wsgcn": ("detect", True, True, "graphs"),
}
#: Pan et al. Table 2: the runs from the partial labels on superpixels, by loss terms.
ABLATION = [run for run, (source, *_, graphs) in RUNS.items()
            if source == "wsgcn_seeds" and graphs == "graphs"]  # fmt: skip
LOSSES = {(False, False): "CE only", (True, False): "CE + entropy", (False, True): "CE + Laplacian",
          (True, True): "CE + entropy + Laplacian"}  # fmt: skip


def methods() -> Iterator[Method]:
    yield Method(
        "wsgcn_seeds",
        FAMILY,
        LABEL_MAPS,
        stage="pseudo_labels",
        consumes=("cams",),
        module="pixelnoise.partial_labels",
        options={"settings": SETTINGS},
        description="WSGCN's partial labels: CRF-refined confident CAM pixels, the rest void",
    )
    for run, (supervision, entropy, laplacian, graphs) in RUNS.items():
        source = SOURCES[supervision]
        losses = LOSSES[entropy, laplacian]
        on = "superpixels" if graphs == "graphs" else "a pixel grid"
        yield Method(
            run,
            FAMILY,
            NODE_PROBABILITIES,
            stage="correct_labels",
            consumes=(graphs, *source.consumes),
            module="pixelnoise.wsgcn",
            reads_weak_masks=source.reads_weak_masks,
            uses=source.uses,
            options={
                "supervision": supervision,
                "entropy": entropy,
                "laplacian": laplacian,
                "graphs": graphs,
                "settings": SETTINGS,
            },
            description=f"a GCN per image on {on}, {losses}, from {source.description}",
        )
        for crf in (False, True):
            yield Method(
                run + (CRF_SUFFIX if crf else ""),
                FAMILY,
                LABEL_MAPS,
                stage="pseudo_labels",
                consumes=("cams", graphs, f"{NODE_PROBABILITIES}:{run}"),
                module="pixelnoise.corrected_labels",
                crf=crf,
                options={"run": run, "graphs": graphs, "settings": SETTINGS},
                description=f"{run} node labels on the pixels" + (", dense CRF" if crf else ""),
            )
