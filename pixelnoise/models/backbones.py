"""Dilated ResNet-family backbones that return the last feature map.

Output stride 16 dilates the last stage, 8 the last two, as in DeepLab and IRNet: CAMs and
segmentation keep spatial detail without more parameters.

>>> import torch
>>> net = build_backbone("resnet_tiny", output_stride=8)
>>> net(torch.zeros(1, 3, 64, 64)).shape
torch.Size([1, 128, 8, 8])
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from pixelnoise.errors import ConfigError
from pixelnoise.models.blocks import BasicBlock, Bottleneck

# name -> (block, blocks per stage, stage widths)
ARCHITECTURES = {
    "resnet_tiny": (BasicBlock, (1, 1, 1, 1), (16, 32, 64, 128)),
    "resnet_small": (BasicBlock, (1, 1, 1, 1), (32, 64, 128, 256)),
    "resnet18": (BasicBlock, (2, 2, 2, 2), (64, 128, 256, 512)),
    "resnet34": (BasicBlock, (3, 4, 6, 3), (64, 128, 256, 512)),
    "resnet50": (Bottleneck, (3, 4, 6, 3), (64, 128, 256, 512)),
    "resnet101": (Bottleneck, (3, 4, 23, 3), (64, 128, 256, 512)),
}
#: Backbones with torchvision ImageNet weights (``pretrained: torch-cache``).
TORCHVISION_WEIGHTS = ("resnet18", "resnet34", "resnet50", "resnet101")


class ResNetBackbone(nn.Module):
    """A torchvision-style ResNet without its classification head.

    Parameter names match torchvision's ``ResNet`` so its checkpoints load directly.
    """

    def __init__(self, block, layers, widths, output_stride: int = 16):
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ConfigError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        stem = widths[0]
        self.inplanes = stem
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_stage(block, widths[0], layers[0], stride=1)
        self.layer2 = self._make_stage(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_stage(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_stage(block, widths[3], layers[3], stride=2)
        self.out_channels = widths[3] * block.expansion
        self.output_stride = output_stride
        dilations = {32: (1, 1), 16: (1, 2), 8: (2, 4)}[output_stride]
        for stage, dilation in zip((self.layer3, self.layer4), dilations, strict=True):
            if dilation > 1:
                _dilate_stage(stage, dilation)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def _make_stage(self, block, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        modules = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        modules += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def _dilate_stage(stage: nn.Sequential, dilation: int) -> None:
    """Turn a stride-2 stage into a stride-1 stage with dilated 3x3 convolutions.

    Done on the built modules, as torchvision's BasicBlock refuses ``dilation > 1``.
    """
    for module in stage.modules():
        if isinstance(module, nn.Conv2d):
            if module.stride == (2, 2):
                module.stride = (1, 1)
            if module.kernel_size == (3, 3):
                module.dilation = (dilation, dilation)
                module.padding = (dilation, dilation)


def build_backbone(
    name: str, output_stride: int = 16, pretrained: str | None = None
) -> ResNetBackbone:
    """Build a backbone by name; ``pretrained`` is a local file, ``"torch-cache"`` or None.

    Weights are never downloaded: a configured file that does not exist is an error.
    """
    if name not in ARCHITECTURES:
        raise ConfigError(f"unknown backbone {name!r}; choose one of {sorted(ARCHITECTURES)}")
    block, layers, widths = ARCHITECTURES[name]
    net = ResNetBackbone(block, layers, widths, output_stride)
    if pretrained:
        state = torch.load(_weights_file(name, pretrained), map_location="cpu")
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        missing, unexpected = net.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ConfigError(
                f"pretrained weights for {name} do not match: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )
    return net


def _weights_file(name: str, pretrained: str) -> Path:
    if pretrained == "torch-cache":
        if name not in TORCHVISION_WEIGHTS:
            raise ConfigError(f"no torchvision ImageNet weights exist for backbone {name!r}")
        file_name = os.path.basename(_torchvision_weights_url(name))
        path = Path(torch.hub.get_dir()) / "checkpoints" / file_name
        hint = "place the torchvision file there; this pipeline never downloads weights"
    else:
        path = Path(pretrained)
        hint = "fix the path or set it to null to train from scratch"
    if not path.is_file():
        raise ConfigError(f"pretrained weights configured but not found: {path} ({hint})")
    return path


def _torchvision_weights_url(name: str) -> str:
    """Where torchvision publishes ``name``'s ImageNet weights (their file name is the cache's).

    torchvision is imported here only: its import costs about 2 s (it loads torch._dynamo),
    more than many jobs' own work, and only a pretrained backbone needs it.
    """
    from torchvision.models import get_model_weights

    return get_model_weights(name).IMAGENET1K_V1.url
