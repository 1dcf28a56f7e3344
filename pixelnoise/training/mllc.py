"""MLLC (Xiao et al. Sec. III, Alg. 1): semi-supervised segmentation training with a teacher
(EMA of the student) whose pseudo labels on D_n are corrected on the fly by two graphs over the
batch's unlabelled pixels (:mod:`pixelnoise.mllc`), then taught to the student on a strongly
augmented view.

Each step draws as many D_c images (ground truth, L_sup) as D_n images. For a D_n image the
teacher sees a weak view (scale, flip, crop) and the student a strong one (the same crop with
colour jitter, greyscale, blur, and CutMix between the batch's images). At the head's stride:

- ``X_C^0``: the teacher's class probabilities (classes absent from the image's label masked
  out when ``use_image_labels``); ``X_S^0``: the student's embeddings;
- K rounds, class level first: ``A = knn(X_S)``; ``X̂_C = softmax(f_C([X_C, A X_C]))``; mixed
  with ``X_C`` by confidence against the FlexMatch class thresholds (eq. 10, ``alpha``);
  ``W`` from ``X_C``; ``X_S = f_S([X_S, W X_S])``;
- corrected labels ``Ŷ = argmax sum_k X_C^k``; losses: eq. 12 contrastive terms on each
  round's ``X_S`` against EMA prototypes, and eq. 15-16 weighted CE of the student's strong
  prediction (and of each round's ``X_C``) against ``Ŷ``.

Without graphs (``mllc_st``, the paper's self-training row) ``Ŷ`` is the teacher's argmax and
only the weighted CE of the student remains. Optional extra labels for D_n (``mllc_yi``: a
pseudo-label method's maps) add a cross-entropy on the weak view.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from pixelnoise.data.transforms import photometric_jitter, random_scale_flip_crop, to_tensor
from pixelnoise.device import resolve_device
from pixelnoise.losses import void_cross_entropy
from pixelnoise.metrics import VOID
from pixelnoise.mllc import (
    Prototypes,
    class_graph_product,
    class_thresholds,
    contrastive_loss,
    dynamic_weighted_cross_entropy,
    knn_affinity,
    mix_by_confidence,
)
from pixelnoise.models.checkpoints import save_checkpoint, segmentation_meta
from pixelnoise.training.loop import fit, seed_everything
from pixelnoise.training.segmentation import segmentation_network


class SemiSupervisedPairs(Dataset):
    """Item ``i``: D_n image ``i`` (weak view, strong view, allowed classes, extra labels or
    void) and a D_c image (cycled, reshuffled each epoch) with its mask."""

    def __init__(
        self,
        labelled: list[str],
        unlabelled: list[str],
        read_image: Callable[[str], np.ndarray],
        read_mask: Callable[[str], np.ndarray],
        allowed: Callable[[str], list[int]],
        num_classes: int,
        cfg: dict,
        seed: int,
        read_extra: Callable[[str], np.ndarray] | None = None,
    ):
        if not labelled or not unlabelled:
            raise ValueError("MLLC needs labelled (D_c) and unlabelled (D_n) images")
        if cfg["cache_images"]:  # decode each image and label map once, not every epoch
            read_image, read_mask = cache(read_image), cache(read_mask)
            read_extra = cache(read_extra) if read_extra else None
        self.labelled, self.unlabelled = labelled, unlabelled
        self.read_image, self.read_mask, self.allowed = read_image, read_mask, allowed
        self.read_extra, self.num_classes = read_extra, num_classes
        self.cfg, self.seed, self.epoch = cfg, seed, 0

    def __len__(self) -> int:
        return len(self.unlabelled)

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.labelled))
        labelled_id = self.labelled[order[index % len(self.labelled)]]
        crop = {"scale_range": tuple(self.cfg["scale_range"]), "crop_size": self.cfg["crop_size"]}
        image_l, mask = random_scale_flip_crop(
            rng, self.read_image(labelled_id), self.read_mask(labelled_id), **crop
        )
        image_id = self.unlabelled[index]
        image = self.read_image(image_id)
        extra = self.read_extra(image_id) if self.read_extra else np.full(image.shape[:2], VOID)
        # The weak view's crop; the void canvas tells the padding apart from the image.
        weak, extra = random_scale_flip_crop(rng, image, extra.astype(np.uint8), **crop)
        strong = photometric_jitter(rng, weak)
        allowed = np.zeros(self.num_classes, dtype=bool)
        allowed[self.allowed(image_id)] = True
        return (
            to_tensor(image_l),
            torch.from_numpy(mask.astype(np.int64)),
            to_tensor(weak),
            to_tensor(strong),
            torch.from_numpy(allowed),
            torch.from_numpy(extra.astype(np.int64)),
        )


class MllcNet(nn.Module):
    """The student: a segmentation network, an embedding head on its backbone features, and the
    K rounds' ``f_C`` (2C -> C logits) and ``f_S`` (2e -> e, ReLU). Only ``segmentation`` is
    saved as the checkpoint: evaluation uses it unchanged."""

    def __init__(self, segmentation: nn.Module, num_classes: int, embed_dim: int, rounds: int):
        super().__init__()
        self.segmentation = segmentation
        self.backbone = segmentation.backbone  # the training loop's lower learning rate
        channels = segmentation.backbone.out_channels
        self.embed = nn.Sequential(
            nn.Conv2d(channels, embed_dim, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(embed_dim, embed_dim, 1),
        )
        self.class_rounds = nn.ModuleList(
            nn.Linear(2 * num_classes, num_classes) for _ in range(rounds)
        )
        self.sample_rounds = nn.ModuleList(
            nn.Sequential(nn.Linear(2 * embed_dim, embed_dim), nn.ReLU()) for _ in range(rounds)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.segmentation(images)

    def strided(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and embeddings at the output stride."""
        logits, features = self.segmentation.strided_logits_with_features(images)
        return logits, self.embed(features)


def cutmix(rng: np.random.Generator, size: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A partner per image and a box mask (``count x size x size`` bool, half the area on
    average): inside the box, image ``i`` shows its partner."""
    partner = torch.from_numpy(np.roll(np.arange(count), 1))
    boxes = torch.zeros(count, size, size, dtype=torch.bool)
    for i in range(count):
        side = int(round(size * np.sqrt(rng.uniform(0.25, 0.75))))
        top, left = rng.integers(0, size - side + 1, size=2)
        boxes[i, top : top + side, left : left + side] = True
    return partner, boxes


def mix(values: torch.Tensor, partner: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """``values`` (N x C x h x w) with each image's box (scaled to h x w) from its partner."""
    box = F.interpolate(boxes[:, None].float(), size=values.shape[-2:], mode="nearest").bool()
    return torch.where(box, values[partner], values)


def as_nodes(values: torch.Tensor) -> torch.Tensor:
    """N x C x h x w -> (N h w) x C: one row per pixel at the head's stride."""
    return values.permute(0, 2, 3, 1).reshape(-1, values.shape[1])


def mllc_step(model: MllcNet, cfg: dict, seed: int, graphs: bool) -> Callable:
    """The training step (see the module docstring); ``cfg``: the config's ``mllc`` section."""
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    prototypes = Prototypes(
        model.class_rounds[0].out_features, model.embed[-1].out_channels, cfg["prototype_momentum"]
    )
    rng = np.random.default_rng([seed, 2**20])

    @torch.no_grad()
    def update_teacher() -> None:
        for t, s in zip(teacher.parameters(), model.parameters(), strict=True):
            t.mul_(cfg["ema"]).add_(s.detach(), alpha=1 - cfg["ema"])
        for t, s in zip(teacher.buffers(), model.buffers(), strict=True):
            t.copy_(s)

    def step(_, batch, device):
        update_teacher()
        image_l, mask, weak, strong, allowed, extra = (t.to(device) for t in batch)
        # Separate student passes over D_c and the strong views: batch norm normalises each on
        # its own. One joint pass was 10-20 % faster on a CPU but cost about 3 val mIoU points
        # on MSRC-21 (docs/benchmarks.md, "MLLC on MSRC-21").
        loss = void_cross_entropy(model(image_l), mask)
        loss = loss if loss is not None else image_l.new_zeros(())
        with torch.no_grad():
            teacher_logits, _ = teacher.strided(weak)
            if cfg["use_image_labels"]:
                teacher_logits = teacher_logits.masked_fill(~allowed[:, :, None, None], -torch.inf)
            teacher_probs = teacher_logits.float().softmax(1)
        partner, boxes = cutmix(rng, strong.shape[-1], strong.shape[0])
        partner, boxes = partner.to(device), boxes.to(device)
        student_logits, embeddings = model.strided(mix(strong, partner, boxes))
        teacher_probs = mix(teacher_probs, partner, boxes)
        x_c, x_s = as_nodes(teacher_probs), as_nodes(embeddings.float())
        student_log_probs = as_nodes(student_logits.float()).log_softmax(1)
        unsup = teacher_probs.new_zeros(())
        if graphs:
            with torch.autocast(torch.device(device).type, enabled=False):  # float32 sums
                unsup, corrected = dual_graph_losses(model, prototypes, x_c, x_s, cfg)
        else:
            corrected = x_c.argmax(1)
        unsup = unsup + dynamic_weighted_cross_entropy(student_log_probs, corrected)
        loss = loss + cfg["unsupervised_weight"] * unsup
        if bool((extra != VOID).any()):  # mllc_yi: the pseudo labels of D_n on the weak view
            loss = loss + void_cross_entropy(model(weak), extra)
        return loss, None, None

    step.teacher, step.prototypes = teacher, prototypes  # for inspection
    return step


def dual_graph_losses(
    model: MllcNet, prototypes: Prototypes, x_c: torch.Tensor, x_s: torch.Tensor, cfg: dict
) -> tuple[torch.Tensor, torch.Tensor]:
    """Alg. 1's K rounds over the batch's unlabelled pixels: the rounds' losses (contrastive on
    ``X_S``, weighted CE on ``X_C``) and the corrected labels ``Ŷ = argmax sum_k X_C^k``."""
    thresholds = class_thresholds(x_c, cfg["sigma"], x_c.shape[1])
    confident = x_c.max(1).values >= thresholds[x_c.argmax(1)]
    rounds_c, rounds_s = [], []
    for f_c, f_s in zip(model.class_rounds, model.sample_rounds, strict=True):
        adjacency = knn_affinity(x_s.detach(), cfg["knn"])
        propagated = f_c(torch.cat([x_c, adjacency @ x_c], 1)).softmax(1)
        x_c = mix_by_confidence(propagated, x_c, confident, cfg["alpha"])
        x_s = f_s(torch.cat([x_s, class_graph_product(x_c.detach(), x_s)], 1))
        rounds_c.append(x_c)
        rounds_s.append(x_s)
    corrected = torch.stack(rounds_c).sum(0).argmax(1).detach()
    prototypes.update(F.normalize(rounds_s[-1].detach(), dim=1), corrected)
    unsup = x_c.new_zeros(())
    for x_c_k, x_s_k in zip(rounds_c, rounds_s, strict=True):
        unsup = unsup + cfg["contrastive_weight"] * contrastive_loss(
            x_s_k, corrected, prototypes, cfg["pair_weight"], cfg["temperature"]
        )
        unsup = unsup + dynamic_weighted_cross_entropy(x_c_k.clamp_min(1e-8).log(), corrected)
    return unsup, corrected


def train_mllc(
    *,
    labelled: list[str],
    unlabelled: list[str],
    read_image: Callable[[str], np.ndarray],
    read_mask: Callable[[str], np.ndarray],
    allowed: Callable[[str], list[int]],
    class_names: list[str],
    background: int | None,
    cfg: dict,
    settings: dict,
    graphs: bool,
    image_labels: bool,
    checkpoint_path: str,
    log_path: str,
    seed: int,
    device: str,
    init_checkpoint: str | None,
    read_extra: Callable[[str], np.ndarray] | None = None,
    description: str = "mllc",
) -> list[dict]:
    """Train the student with the shared loop (``cfg``: the ``segment.network`` section, e.g.
    epochs, optimiser, schedule; ``settings``: the ``mllc`` section) and save its segmentation
    network as an ordinary segmentation checkpoint. ``read_mask`` is only called on
    ``labelled`` (D_c) images."""
    seed_everything(seed)
    dev = resolve_device(device)
    segmentation = segmentation_network(cfg, class_names, init_checkpoint)
    model = MllcNet(segmentation, len(class_names), settings["embed_dim"], settings["rounds"])
    model.to(dev)
    data = SemiSupervisedPairs(
        labelled, unlabelled, read_image, read_mask, allowed, len(class_names), cfg, seed,
        read_extra=read_extra,
    )  # fmt: skip
    history = fit(
        model,
        data,
        backbone=model.backbone,
        step=mllc_step(model, {**settings, "use_image_labels": image_labels}, seed, graphs),
        cfg=cfg,
        seed=seed,
        device=dev,
        log_path=log_path,
        description=description,
    )
    save_checkpoint(
        checkpoint_path, segmentation.cpu(), segmentation_meta(cfg, class_names, background)
    )
    return history
