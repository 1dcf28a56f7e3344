"""MLLC (Xiao et al. Sec. III, Alg. 1): semi-supervised segmentation training with a teacher
(EMA of the student) whose pseudo labels on D_n are corrected on the fly by two graphs over the
batch's unlabelled pixels (:mod:`pixelnoise.mllc`), then taught to the student on a strongly
augmented view.

Each step draws as many D_c images (ground truth, L_sup) as D_n images. For a D_n image the
teacher sees a weak view (scale, flip, crop) and the student a strong one (the same crop with
UniMatch's colour jitter (p = 0.8), greyscale and blur, and CutMix (p = 0.5) between the
batch's images). The nodes are the pixels at the head's stride that lie inside the image: the
crop's padding is no node and no loss target. K rounds, class level first, run the same on two
graphs (reference-details (c)):

- the teacher's (no gradient): ``X_C^0`` its class probabilities on the weak view (classes
  absent from the image's label masked out when ``use_image_labels``), ``X_S^0`` its
  embeddings, its ``f_C`` and ``f_S``; it gives the corrected labels ``Ŷ = argmax sum_k X_C^k``
  (eq. 15);
- the student's, on the strong view with its own modules: each round ``A = knn(X_S)``;
  ``X̂_C = softmax(f_C([X_C, A X_C]))``, mixed with ``X_C`` by confidence against the
  FlexMatch class thresholds (eq. 10, ``alpha``); ``W`` from ``X_C``; ``X_S = f_S([X_S, W
  X_S])``. Its ``P_k = X_C^k`` and ``ṽ_k = X_S^k`` carry the losses: eq. 12 on ``ṽ_k`` (pairs
  within an image; round k's EMA prototypes, fed by the D_c pixels' ground truth through the
  student's graph without gradient and by the D_n pixels' ``Ŷ``) and eq. 15-16's weighted CE
  of ``P_k`` (k = 0: the student's prediction) against ``Ŷ``, ``ω = P_k[Ŷ]`` detached.

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
    """Item ``i``: a D_c image (cycled, reshuffled each epoch) with its mask, and D_n image ``i``:
    weak view, strong view, allowed classes, extra labels or void, and where the weak view is
    the image (not the crop's padding)."""

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
        jitter_probability: float = 0.8,
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
        self.jitter_probability = jitter_probability

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
        # The weak view's crop, with a plane of zeros whose void canvas marks the padding.
        planes = np.stack([extra.astype(np.uint8), np.zeros_like(extra, np.uint8)], axis=2)
        weak, planes = random_scale_flip_crop(rng, image, planes, **crop)
        extra, inside = planes[..., 0], planes[..., 1] != VOID
        strong = photometric_jitter(rng, weak, self.jitter_probability)
        allowed = np.zeros(self.num_classes, dtype=bool)
        allowed[self.allowed(image_id)] = True
        return (
            to_tensor(image_l),
            torch.from_numpy(mask.astype(np.int64)),
            to_tensor(weak),
            to_tensor(strong),
            torch.from_numpy(allowed),
            torch.from_numpy(extra.astype(np.int64)),
            torch.from_numpy(inside),
        )


class MllcNet(nn.Module):
    """The student: a segmentation network, an embedding head on its backbone features
    (Conv-BN-ReLU, then a 1 x 1 convolution to ``embed_dim``), and the K rounds' ``f_C``
    (2C -> C logits) and ``f_S`` (2e -> e, batch norm, ReLU: reference-details (f)). Only
    ``segmentation`` is saved as the checkpoint: evaluation uses it unchanged."""

    def __init__(self, segmentation: nn.Module, num_classes: int, embed_dim: int, rounds: int):
        super().__init__()
        self.segmentation = segmentation
        self.backbone = segmentation.backbone  # the training loop's lower learning rate
        channels = segmentation.backbone.out_channels
        self.embed = nn.Sequential(  # Sec. IV-A: a Conv-BN-ReLU block, then to the 256-d space
            nn.Conv2d(channels, embed_dim, 1),
            nn.BatchNorm2d(embed_dim),
            nn.ReLU(inplace=True),
            nn.Conv2d(embed_dim, embed_dim, 1),
        )
        self.class_rounds = nn.ModuleList(
            nn.Linear(2 * num_classes, num_classes) for _ in range(rounds)
        )
        self.sample_rounds = nn.ModuleList(
            nn.Sequential(nn.Linear(2 * embed_dim, embed_dim), nn.BatchNorm1d(embed_dim), nn.ReLU())
            for _ in range(rounds)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.segmentation(images)

    def strided(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and embeddings at the output stride."""
        logits, features = self.segmentation.strided_logits_with_features(images)
        return logits, self.embed(features)


def cutmix(
    rng: np.random.Generator, size: int, count: int, probability: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """A partner per image and a box mask (``count x size x size`` bool): inside the box, image
    ``i`` shows its partner. As UniMatch: with ``probability`` an image gets a box of 2-40 % of
    the area and aspect ratio 0.3-3.3; otherwise none."""
    partner = torch.from_numpy(np.roll(np.arange(count), 1))
    boxes = torch.zeros(count, size, size, dtype=torch.bool)
    for i in range(count):
        if rng.random() >= probability:
            continue
        while True:
            area = rng.uniform(0.02, 0.4) * size * size
            ratio = rng.uniform(0.3, 1 / 0.3)
            height, width = int(np.sqrt(area * ratio)), int(np.sqrt(area / ratio))
            top, left = rng.integers(0, size, size=2)
            if top + height <= size and left + width <= size:
                break
        boxes[i, top : top + height, left : left + width] = True
    return partner, boxes


def mix(values: torch.Tensor, partner: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """``values`` (N x C x h x w) with each image's box (scaled to h x w) from its partner."""
    box = F.interpolate(boxes[:, None].float(), size=values.shape[-2:], mode="nearest").bool()
    return torch.where(box, values[partner], values)


def as_nodes(values: torch.Tensor) -> torch.Tensor:
    """N x C x h x w -> (N h w) x C: one row per pixel at the head's stride."""
    return values.permute(0, 2, 3, 1).reshape(-1, values.shape[1])


def nodes_inside(inside: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N h w) bool: the head-stride cells mostly inside the image (``inside``: N x H x W)."""
    share = F.interpolate(inside[:, None].float(), size=size, mode="area")
    return as_nodes(share)[:, 0] >= 0.5


def graph_rounds(
    model: MllcNet, x_c: torch.Tensor, x_s: torch.Tensor, cfg: dict
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Alg. 1's K rounds from ``X_C^0`` (n x C probabilities) and ``X_S^0`` (n x e embeddings)
    through ``model``'s ``f_C`` and ``f_S``: each round's ``X_C^k`` and ``X_S^k``."""
    thresholds = class_thresholds(x_c.detach(), cfg["sigma"], x_c.shape[1])
    confident = x_c.max(1).values >= thresholds[x_c.argmax(1)]
    rounds_c, rounds_s = [], []
    for f_c, f_s in zip(model.class_rounds, model.sample_rounds, strict=True):
        adjacency = knn_affinity(x_s.detach(), cfg["knn"])
        propagated = f_c(torch.cat([x_c, adjacency @ x_c], 1)).softmax(1)
        x_c = mix_by_confidence(propagated, x_c, confident, cfg["alpha"])
        x_s = f_s(torch.cat([x_s, class_graph_product(x_c.detach(), x_s)], 1))
        rounds_c.append(x_c)
        rounds_s.append(x_s)
    return rounds_c, rounds_s


@torch.no_grad()
def corrected_labels(teacher: MllcNet, x_c: torch.Tensor, x_s: torch.Tensor, cfg: dict):
    """Eq. 15's ``Ŷ = argmax sum_k X_C^k`` on the teacher's graph."""
    return torch.stack(graph_rounds(teacher, x_c, x_s, cfg)[0]).sum(0).argmax(1)


def dual_graph_losses(
    model: MllcNet,
    prototypes: list[Prototypes],
    x_c: torch.Tensor,
    x_s: torch.Tensor,
    corrected: torch.Tensor,
    images: torch.Tensor,
    cfg: dict,
    labelled: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """The student's K rounds from ``x_c``, ``x_s`` (its strong-view probabilities and
    embeddings of the unlabelled nodes, ``images``: each node's image) and their losses against
    the teacher's ``corrected`` labels: eq. 12 on ``X_S^k`` against round k's prototypes and
    eq. 15-16 on ``X_C^k``. ``labelled``: D_c nodes' probabilities, embeddings and ground truth,
    run through the same rounds without gradient to move the prototypes (eq. 13)."""
    rounds_c, rounds_s = graph_rounds(model, x_c, x_s, cfg)
    if labelled is not None and len(labelled[2]) > 1:
        with torch.no_grad():
            labelled_s = graph_rounds(model, labelled[0], labelled[1], cfg)[1]
        truth = labelled[2]
    else:
        labelled_s, truth = [x_s.new_zeros(0, x_s.shape[1])] * len(rounds_s), corrected[:0]
    unsup = x_c.new_zeros(())
    for x_c_k, x_s_k, bank, gt_s_k in zip(rounds_c, rounds_s, prototypes, labelled_s, strict=True):
        unit = F.normalize(torch.cat([x_s_k.detach(), gt_s_k]), dim=1)
        bank.update(unit, torch.cat([corrected, truth]))
        unsup = unsup + cfg["contrastive_weight"] * contrastive_loss(
            x_s_k, corrected, bank, cfg["pair_weight"], cfg["temperature"], images
        )
        unsup = unsup + dynamic_weighted_cross_entropy(x_c_k.clamp_min(1e-8).log(), corrected)
    return unsup


def labelled_nodes(
    logits: torch.Tensor, embeddings: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The D_c pixels at the head's stride with a label: probabilities, embeddings, labels."""
    labels = F.interpolate(mask[:, None].float(), size=logits.shape[-2:], mode="nearest")
    labels = as_nodes(labels)[:, 0].long()
    keep = labels != VOID
    probs = as_nodes(logits.detach().float()).softmax(1)
    return probs[keep], as_nodes(embeddings.detach().float())[keep], labels[keep]


def mllc_step(model: MllcNet, cfg: dict, seed: int, graphs: bool) -> Callable:
    """The training step (see the module docstring); ``cfg``: the config's ``mllc`` section."""
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    num_classes, dim = model.class_rounds[0].out_features, model.embed[-1].out_channels
    prototypes = [
        Prototypes(num_classes, dim, cfg["prototype_momentum"]) for _ in model.class_rounds
    ]
    rng = np.random.default_rng([seed, 2**20])

    @torch.no_grad()
    def update_teacher() -> None:
        for t, s in zip(teacher.parameters(), model.parameters(), strict=True):
            t.mul_(cfg["ema"]).add_(s.detach(), alpha=1 - cfg["ema"])
        for t, s in zip(teacher.buffers(), model.buffers(), strict=True):
            t.copy_(s)

    def step(_, batch, device):
        update_teacher()
        image_l, mask, weak, strong, allowed, extra, inside = (t.to(device) for t in batch)
        # Separate student passes over D_c and the strong views: batch norm normalises each on
        # its own. One joint pass was 10-20 % faster on a CPU but cost about 3 val mIoU points
        # on MSRC-21 (docs/benchmarks.md, "MLLC on MSRC-21").
        logits_l, embeddings_l = model.strided(image_l)
        upsampled = F.interpolate(
            logits_l, size=image_l.shape[-2:], mode="bilinear", align_corners=False
        )  # fmt: skip  (= model(image_l))
        loss = void_cross_entropy(upsampled, mask)
        loss = loss if loss is not None else image_l.new_zeros(())
        with torch.no_grad():
            teacher_logits, teacher_embeddings = teacher.strided(weak)
            if cfg["use_image_labels"]:
                teacher_logits = teacher_logits.masked_fill(~allowed[:, :, None, None], -torch.inf)
            teacher_probs = teacher_logits.float().softmax(1)
        partner, boxes = cutmix(rng, strong.shape[-1], strong.shape[0], cfg["cutmix_probability"])
        partner, boxes = partner.to(device), boxes.to(device)
        student_logits, embeddings = model.strided(mix(strong, partner, boxes))
        size = student_logits.shape[-2:]
        nodes = nodes_inside(mix(inside[:, None], partner, boxes)[:, 0], size)
        images = torch.arange(len(strong), device=device).repeat_interleave(size[0] * size[1])
        images = images[nodes]
        teacher_probs = as_nodes(mix(teacher_probs, partner, boxes))[nodes]
        student_log_probs = as_nodes(student_logits.float()).log_softmax(1)[nodes]
        unsup = teacher_probs.new_zeros(())
        if graphs and len(images) > 1:
            with torch.autocast(torch.device(device).type, enabled=False):  # float32 sums
                teacher_s = as_nodes(mix(teacher_embeddings.float(), partner, boxes))[nodes]
                corrected = corrected_labels(teacher, teacher_probs, teacher_s, cfg)
                unsup = dual_graph_losses(
                    model, prototypes, student_log_probs.exp(),
                    as_nodes(embeddings.float())[nodes], corrected, images, cfg,
                    labelled=labelled_nodes(logits_l, embeddings_l, mask),
                )  # fmt: skip
        else:
            corrected = teacher_probs.argmax(1)
        if len(images):
            unsup = unsup + dynamic_weighted_cross_entropy(student_log_probs, corrected)
        loss = loss + cfg["unsupervised_weight"] * unsup
        if bool((extra != VOID).any()):  # mllc_yi: the pseudo labels of D_n on the weak view
            loss = loss + void_cross_entropy(model(weak), extra)
        return loss, None, None

    step.teacher, step.prototypes = teacher, prototypes  # for inspection
    return step


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
        read_extra=read_extra, jitter_probability=settings["jitter_probability"],
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
        config_key="segment.network",
    )
    save_checkpoint(
        checkpoint_path, segmentation.cpu(), segmentation_meta(cfg, class_names, background)
    )
    return history
