import numpy as np
import torch

from pixelnoise.train_segmentation import load_segmentation, train_segmentation

CFG = dict(
    backbone="resnet_tiny",
    output_stride=8,
    head="aspp",
    pretrained=None,
    epochs=6,
    batch_size=4,
    optimizer="adamw",
    lr=0.003,
    weight_decay=0.0,
    crop_size=32,
    scale_range=[1.0, 1.0],
    num_workers=0,
)


def _toy():
    rng = np.random.default_rng(0)
    images, labels = {}, {}
    for k in range(8):
        label = np.zeros((32, 32), np.uint8)
        top, left = rng.integers(0, 16, 2)
        label[top : top + 16, left : left + 16] = 1 + k % 2
        colour = np.array([[30, 30, 30], [220, 40, 40], [40, 40, 220]], np.uint8)[label]
        images[f"i{k}"] = colour
        labels[f"i{k}"] = label
    return images, labels


def test_training_decreases_loss_and_checkpoint_round_trips(tmp_path):
    images, labels = _toy()
    history = train_segmentation(
        ids=sorted(images),
        read_image=images.__getitem__,
        read_labels=labels.__getitem__,
        class_names=["background", "red", "blue"],
        background=0,
        cfg=CFG,
        checkpoint_path=str(tmp_path / "seg.pt"),
        log_path=str(tmp_path / "log.csv"),
        device="cpu",
    )
    assert history[-1]["loss"] < 0.6 * history[0]["loss"]
    model, meta = load_segmentation(str(tmp_path / "seg.pt"))
    assert meta["class_names"] == ["background", "red", "blue"] and meta["head"] == "aspp"
    x = torch.randn(1, 3, 32, 32)
    state = torch.load(tmp_path / "seg.pt")["state_dict"]
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert model(x).shape == (1, 3, 32, 32)
