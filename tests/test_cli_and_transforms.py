import numpy as np
import pandas as pd

from pixelnoise.__main__ import main
from pixelnoise.data.transforms import random_scale_flip_crop, to_tensor


def test_cli_generates_and_validates_a_dataset(tmp_path, capsys):
    root = tmp_path / "syn"
    assert main(["generate", str(root), "--n-train", "6", "--n-val", "2"]) == 0
    out = tmp_path / "manifest.csv"
    assert main(["manifest", str(root), "--out", str(out), "--strong", "2"]) == 0
    roles = pd.read_csv(out)["role"].value_counts().to_dict()
    assert roles == {"weak": 4, "strong": 2, "val": 2}


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    assert main(["manifest", str(tmp_path / "missing")]) == 2
    assert "error:" in capsys.readouterr().err


def test_crop_keeps_image_and_labels_aligned():
    rng = np.random.default_rng(1)
    rows, cols = np.mgrid[0:30, 0:40]
    labels = (rows // 10 * 4 + cols // 10) % 7  # 10x10 blocks: labels change only at edges
    image = np.repeat((labels * 30).astype(np.uint8)[..., None], 3, axis=2)
    for _ in range(5):
        crop, crop_labels = random_scale_flip_crop(
            rng, image, labels.astype(np.uint8), scale_range=(0.5, 1.5), crop_size=32
        )
        inside = crop_labels != 255
        assert crop.shape == (32, 32, 3) and crop_labels.shape == (32, 32)
        assert inside.any()
        # Nearest-neighbour labels agree with the bilinear image away from label edges.
        agree = np.abs(crop[..., 0].astype(int) - crop_labels.astype(int) * 30) < 16
        assert agree[inside].mean() > 0.6


def test_to_tensor_normalises_channels_first():
    tensor = to_tensor(np.full((4, 5, 3), 255, np.uint8), mean=(0.5, 0.5, 0.5), std=(0.5,) * 3)
    assert tensor.shape == (3, 4, 5)
    assert np.allclose(tensor.numpy(), 1.0)
