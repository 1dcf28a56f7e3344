"""Image classifier whose 1x1-conv head turns into Class Activation Maps.

GAP followed by a bias-free 1x1 convolution equals the 1x1 convolution followed by GAP, so the
head applied to the feature map *is* the CAM of Yi et al. eq. 1.

>>> import torch
>>> model = CamClassifier("resnet_tiny", num_classes=6, output_stride=8)
>>> model(torch.zeros(2, 3, 64, 64)).shape, model.cam(torch.zeros(1, 3, 64, 64)).shape
(torch.Size([2, 6]), torch.Size([1, 6, 8, 8]))
"""

from __future__ import annotations

import torch
from torch import nn

from pixelnoise.models.backbones import build_backbone


class CamClassifier(nn.Module):
    def __init__(
        self,
        backbone: str,
        num_classes: int,
        output_stride: int = 16,
        pretrained: str | None = None,
    ):
        super().__init__()
        self.backbone = build_backbone(backbone, output_stride, pretrained)
        self.classifier = nn.Conv2d(self.backbone.out_channels, num_classes, 1, bias=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Multi-label logits, one per object class."""
        features = self.backbone(images).mean(dim=(2, 3), keepdim=True)
        return self.classifier(features).flatten(1)

    def cam(self, images: torch.Tensor) -> torch.Tensor:
        """Raw class activation maps at the backbone's output stride."""
        return self.classifier(self.backbone(images))
