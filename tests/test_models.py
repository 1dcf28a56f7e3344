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


@pytest.mark.parametrize("name", ["resnet_tiny", "resnet18", "resnet50"])
def test_blocks_match_torchvision_in_initial_weights_and_outputs(name):
    """Our blocks are torchvision's: the same seed gives the same weights, the same outputs."""
    torchvision = pytest.importorskip("torchvision")
    from pixelnoise.models.backbones import ARCHITECTURES, ResNetBackbone

    block, layers, widths = ARCHITECTURES[name]
    theirs = getattr(torchvision.models.resnet, block.__name__)
    torch.manual_seed(3)
    ours = build_backbone(name, output_stride=8).eval()
    torch.manual_seed(3)
    reference = ResNetBackbone(theirs, layers, widths, output_stride=8).eval()
    assert list(ours.state_dict()) == list(reference.state_dict())
    for key, value in ours.state_dict().items():
        assert torch.equal(value, reference.state_dict()[key]), key
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(images), reference(images))


def test_torch_cache_looks_up_torchvisions_file_name(tmp_path, monkeypatch):
    torchvision = pytest.importorskip("torchvision")
    url = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    source = build_backbone("resnet18")
    torch.save(source.state_dict(), tmp_path / "checkpoints" / url.rsplit("/", 1)[1])
    loaded = build_backbone("resnet18", pretrained="torch-cache")
    assert torch.equal(loaded.conv1.weight, source.conv1.weight)


def test_importing_the_models_does_not_import_torchvision():
    """torchvision's import costs about 2 s a job; only pretrained weights need it."""
    import subprocess
    import sys

    code = "import sys, pixelnoise.models.deeplab; assert 'torchvision' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


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
