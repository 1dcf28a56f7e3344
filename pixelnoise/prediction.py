"""Label maps predicted by a segmentation network, optionally refined by the dense CRF.

Apart from :mod:`pixelnoise.inference` so that the stages that only need the clean model's
probabilities and features (loss maps, graphs) do not depend on the CRF's code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pixelnoise.crf import dense_crf
from pixelnoise.inference import predict_probabilities


def predict_labels(
    model,
    image: np.ndarray,
    meta: dict,
    *,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    crf: dict | None = None,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """HxW uint8 class indices; ``crf`` (the config's ``crf`` section) refines them first."""
    probs = predict_probabilities(model, image, meta, scales=scales, flip=flip, device=device)
    if crf is not None:
        probs = dense_crf(image, probs, **crf)
    return probs.argmax(0).astype(np.uint8)
