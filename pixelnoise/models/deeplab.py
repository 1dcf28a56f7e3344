"""DeepLab-style segmentation network: dilated ResNet backbone + ASPP or LargeFOV head.

>>> import torch
>>> net = SegmentationNet("resnet_tiny", num_classes=5, output_stride=8, head="aspp").eval()
>>> net(torch.zeros(1, 3, 64, 48)).shape
torch.Size([1, 5, 64, 48])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pixelnoise.errors import ConfigError
from pixelnoise.models.backbones import build_backbone


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLab v3): parallel dilated 3x3 convs + image pooling."""

    def __init__(self, in_channels: int, channels: int, rates=(6, 12, 18)):
        super().__init__()

        def branch(kernel: int, rate: int) -> nn.Sequential:
            pad = 0 if kernel == 1 else rate
            return nn.Sequential(
                nn.Conv2d(in_channels, channels, kernel, padding=pad, dilation=rate, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            )

        self.branches = nn.ModuleList([branch(1, 1)] + [branch(3, r) for r in rates])
        self.pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, channels, 1), nn.ReLU(inplace=True)
        )
        self.project = nn.Sequential(
            nn.Conv2d(channels * (len(rates) + 2), channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Dropout(0.1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.interpolate(self.pool(x), size=x.shape[-2:], mode="nearest")
        return self.project(torch.cat([b(x) for b in self.branches] + [pooled], dim=1))


class LargeFOV(nn.Sequential):
    """DeepLab v1's LargeFOV head: a dilated 3x3 conv (rate 12) and a 1x1 conv."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__(
            nn.Conv2d(in_channels, channels, 3, padding=12, dilation=12),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Conv2d(channels, channels, 1),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
        )


class SegmentationNet(nn.Module):
    def __init__(
        self,
        backbone: str,
        num_classes: int,
        output_stride: int = 8,
        head: str = "aspp",
        head_channels: int | None = None,
        pretrained: str | None = None,
    ):
        super().__init__()
        self.backbone = build_backbone(backbone, output_stride, pretrained)
        channels = head_channels or min(256, self.backbone.out_channels)
        if head == "aspp":
            # Rates scale with the output stride, as in DeepLab v3 (6/12/18 at stride 16).
            rates = (12, 24, 36) if output_stride == 8 else (6, 12, 18)
            self.head = ASPP(self.backbone.out_channels, channels, rates)
        elif head == "largefov":
            self.head = LargeFOV(self.backbone.out_channels, channels)
        else:
            raise ConfigError(f"unknown segmentation head {head!r} (aspp | largefov)")
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """High-level backbone features (the paper's conv5 features) at the output stride."""
        return self.backbone(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits upsampled to the input size."""
        return self.forward_with_features(images)[0]

    def forward_with_features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits at input size and the backbone features they came from (one pass)."""
        logits, features = self.strided_logits_with_features(images)
        logits = F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)
        return logits, features

    def strided_logits_with_features(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Logits at the output stride (for callers that upsample them themselves) and the
        backbone features they came from."""
        features = self.backbone(images)
        return self.classifier(self.head(features)), features
