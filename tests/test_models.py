import pytest
import torch

from pixelnoise.errors import ConfigError
from pixelnoise.models.backbones import build_backbone
from pixelnoise.models.classifier import CamClassifier


@pytest.mark.parametrize("stride", [8, 16, 32])
def test_output_stride(stride):
    net = build_backbone("resnet_tiny", output_stride=stride).eval()
    out = net(torch.zeros(1, 3, 64, 96))
    assert out.shape == (1, 128, 64 // stride, 96 // stride)


def test_torchvision_state_dict_names_load_into_resnet18():
    torchvision = pytest.importorskip("torchvision")
    reference = torchvision.models.resnet18(weights=None).state_dict()
    net = build_backbone("resnet18", output_stride=16)
    missing, unexpected = net.load_state_dict(reference, strict=False)
    assert missing == [] and set(unexpected) == {"fc.weight", "fc.bias"}


def test_pretrained_from_local_file(tmp_path):
    source = build_backbone("resnet_tiny")
    path = tmp_path / "weights.pth"
    torch.save(source.state_dict(), path)
    loaded = build_backbone("resnet_tiny", pretrained=str(path))
    for name, value in source.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[name])


def test_missing_pretrained_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(ConfigError, match="nope.pth"):
        build_backbone("resnet_tiny", pretrained=str(missing))


def test_torch_cache_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(ConfigError, match="never downloads"):
        build_backbone("resnet18", pretrained="torch-cache")


def test_unknown_backbone_and_stride():
    with pytest.raises(ConfigError, match="unknown backbone"):
        build_backbone("vgg99")
    with pytest.raises(ConfigError, match="output_stride"):
        build_backbone("resnet_tiny", output_stride=4)


def test_classifier_logits_equal_gap_of_cam():
    torch.manual_seed(0)
    model = CamClassifier("resnet_tiny", num_classes=5, output_stride=8).eval()
    images = torch.randn(2, 3, 48, 64)
    with torch.no_grad():
        logits, cams = model(images), model.cam(images)
    assert torch.allclose(logits, cams.mean(dim=(2, 3)), atol=1e-5)
