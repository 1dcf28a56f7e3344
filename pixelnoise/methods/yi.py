"""Yi et al., *Learning from Pixel-Level Label Noise* (Tables V and VI): CAM labels, detected
clean labels, GNN correction from a supervision source, and the dense CRF after it."""

from __future__ import annotations

from collections.abc import Iterator

from pixelnoise.methods.registry import LABEL_MAPS, NODE_PROBABILITIES, Method
from pixelnoise.supervision import SOURCES

FAMILY = "yi"
#: Correction runs: name -> (supervision source, GNN). ``propagation`` is label propagation on
#: the same graph without learning: the baseline the GNN has to beat.
CORRECTION_RUNS = {
    "detect_gat": ("detect", "gat"),
    "detect_gcn": ("detect", "gcn"),
    "camseeds_gat": ("camseeds", "gat"),
    "oracle_gat": ("oracle", "gat"),
    "detect_lp": ("detect", "propagation"),
}
MODULES = {"propagation": "pixelnoise.propagation"}  # else pixelnoise.correction (a GNN)
CRF_SUFFIX = "_crf"
#: "_keep": pixels detected as clean keep their own CAM label; the correction fills the rest.
KEEP_SUFFIX = "_keep"
FIGURE_TITLES = {"detect_gat": "corrected (GAT)", "detect_gat_crf": "corrected + CRF"}


def methods() -> Iterator[Method]:
    yield Method(
        "cam",
        FAMILY,
        LABEL_MAPS,
        stage="pseudo_labels",
        consumes=("cams",),
        module="pixelnoise.cam_labels",
        figure="CAM",
        description="CAM labels: the strongest present class, background below tau_bg",
    )
    yield Method(
        "detect",
        FAMILY,
        LABEL_MAPS,
        stage="pseudo_labels",
        consumes=("cams", "losses", "theta"),
        module="pixelnoise.detect",
        figure="clean pixels (detect)",
        description="CAM labels whose clean-model loss is below theta; the rest void",
    )
    for run, (supervision, gnn) in CORRECTION_RUNS.items():
        source = SOURCES[supervision]
        yield Method(
            run,
            FAMILY,
            NODE_PROBABILITIES,
            stage="correct_labels",
            consumes=("graphs", *source.consumes),
            module=MODULES.get(gnn, "pixelnoise.correction"),
            reads_weak_masks=source.reads_weak_masks,
            uses=source.uses,
            options={"supervision": supervision, "gnn": gnn},
            description=f"{gnn} on superpixel graphs from {source.description}",
        )
    for run, (supervision, _) in CORRECTION_RUNS.items():
        # Keeping the detected pixels' labels needs detection: runs supervised by it.
        keeps = (False, True) if supervision == "detect" else (False,)
        for keep in keeps:
            for crf in (False, True):
                name = run + (KEEP_SUFFIX if keep else "") + (CRF_SUFFIX if crf else "")
                detected = ("losses", "theta") if keep else ()
                yield Method(
                    name,
                    FAMILY,
                    LABEL_MAPS,
                    stage="pseudo_labels",
                    # CAMs: an image whose graph had no labelled node keeps its CAM labels.
                    consumes=("cams", *detected, "graphs", f"{NODE_PROBABILITIES}:{run}"),
                    module="pixelnoise.corrected_labels",
                    crf=crf,
                    options={"run": run, "keep_clean": keep},
                    figure=FIGURE_TITLES.get(name),
                    description=f"{run} node labels on the pixels"
                    + (", detected pixels keep their CAM labels" if keep else "")
                    + (", dense CRF" if crf else ""),
                )
