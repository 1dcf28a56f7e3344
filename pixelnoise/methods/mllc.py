"""MLLC (Xiao et al.): segmentation networks trained semi-supervised on D_c's masks and D_n's
images, teacher pseudo labels corrected by dual graphs during training (the config's ``mllc``).

``mllc`` is the full scheme; ``mllc_st`` plain self-training without the graphs (the paper's
"Self-T." row); ``mllc_il`` the full scheme with D_n's image-level labels masking the teacher's
absent classes (beyond the paper); ``mllc_yi`` the full scheme with Yi et al.'s
``detect_gat_crf`` labels as extra supervision of D_n. All start from the clean model.
"""

from __future__ import annotations

from collections.abc import Iterator

from pixelnoise.methods.registry import CHECKPOINT, LABEL_MAPS, Method

FAMILY = "mllc"
MODULE = "pixelnoise.training.mllc"
#: name -> (dual graphs, image-level labels mask the teacher, extra pseudo labels of D_n)
VARIANTS = {
    "mllc": (True, False, None),
    "mllc_st": (False, False, None),
    "mllc_il": (True, True, None),
    "mllc_yi": (True, False, "detect_gat_crf"),
}


def methods() -> Iterator[Method]:
    for name, (graphs, image_labels, extra) in VARIANTS.items():
        scheme = "dual-graph label correction" if graphs else "plain self-training"
        yield Method(
            name,
            FAMILY,
            CHECKPOINT,
            stage="train_segmentation",
            consumes=("strong_masks", "clean_model", *([f"{LABEL_MAPS}:{extra}"] if extra else [])),
            module=MODULE,
            options={
                "labels": "mllc",
                "graphs": graphs,
                "image_labels": image_labels,
                "init": "clean_model",
                "settings": FAMILY,
            },  # fmt: skip
            description=f"D_c + D_n images, teacher-student with {scheme}"
            + (", image-level labels" if image_labels else "")
            + (f", {extra} labels of D_n" if extra else ""),
        )
