"""Stage: per-pixel loss of the CAM labels under the clean model (Yi et al. eq. 2), to Zarr."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from tqdm import tqdm

from pixelnoise.arraystore import ArrayReader, ArrayWriter
from pixelnoise.atomic import atomic_path
from pixelnoise.clean_model import predict
from pixelnoise.device import resolve_device
from pixelnoise.metrics import VOID
from pixelnoise.stages_common import RunData
from pixelnoise.train_segmentation import load_segmentation


def pixel_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 2: per-pixel cross-entropy -log softmax(logits)[label]; NaN where the label is VOID.

    ``logits`` N x C x H x W, ``labels`` N x H x W integers. Returns float32 N x H x W on the
    logits' device. NaN (not 0, as ``ignore_index`` would give) so that an unlabelled pixel can
    never pass a ``loss < θ`` test.

    >>> logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 0.0]]]])     # N=1, C=2, H=1, W=2
    >>> pixel_losses(logits, torch.tensor([[[0, 255]]])).tolist()
    [[[0.12692804634571075, nan]]]
    """
    if logits.ndim != 4 or labels.ndim != 3:
        raise ValueError(
            f"expected logits N x C x H x W and labels N x H x W, got {tuple(logits.shape)} "
            f"and {tuple(labels.shape)}"
        )
    n, c, h, w = logits.shape
    if tuple(labels.shape) != (n, h, w):
        raise ValueError(f"labels {tuple(labels.shape)} do not match logits {tuple(logits.shape)}")
    labels = labels.to(device=logits.device, dtype=torch.long)
    void = labels == VOID
    if ((labels < 0) | ((labels >= c) & ~void)).any():
        raise ValueError(f"labels must be in 0..{c - 1} or {VOID} (void)")
    # Upcast first: half-precision log_softmax loses the small losses that θ (~1e-3) separates.
    log_probs = F.log_softmax(logits.float(), dim=1)
    safe = labels.masked_fill(void, 0)  # any valid index; overwritten with NaN below
    losses = -log_probs.gather(1, safe[:, None]).squeeze(1)
    return losses.masked_fill(void, float("nan"))


def score_pixels(
    *,
    manifest_path: str,
    dataset_cfg: dict,
    cam_paths: list[str],
    checkpoint_path: str,
    tau_bg: float,
    out_path: str,
    shard: int = 0,
    shards: int = 1,
    device: str = "auto",
) -> int:
    """Loss maps (H x W float16, NaN where the CAM label is void) of strong and weak images."""
    dev = resolve_device(device)
    run = RunData.load(dataset_cfg, manifest_path)
    cams = ArrayReader(cam_paths)
    model, meta = load_segmentation(checkpoint_path)
    model.to(dev)
    ids = run.ids("strong", "weak", shard=shard, shards=shards)
    with atomic_path(out_path, directory=True) as tmp:
        writer = ArrayWriter(tmp, {"tau_bg": tau_bg, "shard": shard, "shards": shards})
        for image_id in tqdm(ids, desc=f"loss maps shard {shard}", mininterval=5):
            log_probs, _ = predict(model, run.dataset.read_image(image_id), meta, dev)
            labels = torch.from_numpy(run.cam_labels(cams, image_id, tau_bg).astype("int64"))
            losses = pixel_losses(log_probs[None], labels[None])[0]
            writer.write(image_id, losses.numpy())
    return len(ids)
