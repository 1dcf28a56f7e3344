import logging

import numpy as np
import pandas as pd
import pytest
import torch

from pixelnoise.device import cpu_capability
from pixelnoise.errors import ConfigError, PixelnoiseError
from pixelnoise.losses import void_cross_entropy
from pixelnoise.models.checkpoints import load_segmentation, save_checkpoint
from pixelnoise.models.classifier import CamClassifier
from pixelnoise.training import NonFiniteLossError
from pixelnoise.training.loop import supervised_step
from pixelnoise.training.segmentation import train_segmentation

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
    photometric=False,
    num_workers=0,
    max_nonfinite_losses=2,
    lr_schedule="poly",
    cache_images=False,
    channels_last=False,
    amp=False,
    plateau_epochs=0,
    plateau_tolerance=0.01,
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


def _train(tmp_path, images, labels, **kwargs):
    return train_segmentation(
        ids=sorted(images),
        read_image=images.__getitem__,
        read_labels=labels.__getitem__,
        class_names=["background", "red", "blue"],
        background=0,
        cfg={**CFG, **kwargs.pop("cfg", {})},
        checkpoint_path=str(tmp_path / "seg.pt"),
        log_path=str(tmp_path / "log.csv"),
        device="cpu",
        **kwargs,
    )


def test_training_decreases_loss_and_checkpoint_round_trips(tmp_path):
    images, labels = _toy()
    history = _train(tmp_path, images, labels)
    assert history[-1]["loss"] < 0.6 * history[0]["loss"]
    model, meta = load_segmentation(str(tmp_path / "seg.pt"))
    assert meta["class_names"] == ["background", "red", "blue"] and meta["head"] == "aspp"
    x = torch.randn(1, 3, 32, 32)
    state = torch.load(tmp_path / "seg.pt")["state_dict"]
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert model(x).shape == (1, 3, 32, 32)


def test_all_void_batches_are_skipped_and_counted(tmp_path):
    images, labels = _toy()
    void = {k: np.full_like(v, 255) for k, v in labels.items()}
    history = _train(tmp_path, images, void, cfg={"epochs": 2})
    assert [row["empty_batches"] for row in history] == [2, 2]
    assert all(np.isnan(row["loss"]) for row in history)
    assert (tmp_path / "seg.pt").is_file()


def test_a_custom_step_plugs_into_the_loop(tmp_path):
    """A loss over two label maps (the mean of two cross-entropies) without copying the loop."""
    images, labels = _toy()
    batch_sizes = []

    def two_maps(model, batch, device):
        inputs, targets = batch
        outputs = model(inputs)
        swapped = torch.where(targets == 0, 0, 3 - targets)  # a second map: colours swapped
        batch_sizes.append(len(targets))
        ce = torch.nn.functional.cross_entropy
        return 0.5 * (ce(outputs, targets) + ce(outputs, swapped)), outputs, targets

    history = _train(tmp_path, images, labels, cfg={"epochs": 2}, step=two_maps)
    assert batch_sizes == [4, 4, 4, 4]
    # The maps disagree on every object pixel (a quarter of each crop): no model gets the mean
    # of both cross-entropies below log 2 there.
    assert all(row["loss"] >= 0.25 * np.log(2) - 1e-6 for row in history)


def test_non_finite_losses_are_counted_then_stop_the_job(tmp_path):
    images, labels = _toy()

    def diverged(model, batch, device):
        inputs, targets = batch
        outputs = model(inputs)
        return outputs.sum() * float("nan"), outputs, targets

    with pytest.raises(NonFiniteLossError, match="max_nonfinite_losses=2"):
        _train(tmp_path, images, labels, cfg={"epochs": 5}, step=diverged)
    assert not (tmp_path / "seg.pt").exists()  # a diverged model is never saved
    history = pd.read_csv(tmp_path / "log.csv")  # one epoch of two skipped batches logged
    assert history["nonfinite_losses"].tolist() == [2]


def test_loaders_name_the_file_and_the_expected_kind(tmp_path):
    classifier = tmp_path / "classifier.pt"
    save_checkpoint(classifier, CamClassifier("resnet_tiny", 2), {"kind": "classifier"})
    with pytest.raises(PixelnoiseError, match="classifier.pt holds a classifier checkpoint"):
        load_segmentation(str(classifier))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(PixelnoiseError, match="garbage.pt is not a readable checkpoint"):
        load_segmentation(str(garbage))


def test_the_log_records_throughput_and_peak_memory(tmp_path):
    images, labels = _toy()
    _train(tmp_path, images, labels, cfg={"epochs": 2})
    log = pd.read_csv(tmp_path / "log.csv")
    assert (log["images_per_second"] > 0).all() and (log["peak_memory_mb"] > 10).all()
    assert log["seconds"].gt(0).all()


def test_cached_images_give_the_same_training(tmp_path):
    images, labels = _toy()
    reads = []

    def read_image(image_id):
        reads.append(image_id)
        return images[image_id]

    plain = _train(tmp_path / "a", images, labels, cfg={"epochs": 2})
    cached = train_segmentation(
        ids=sorted(images), read_image=read_image, read_labels=labels.__getitem__,
        class_names=["background", "red", "blue"], background=0,
        cfg={**CFG, "epochs": 2, "cache_images": True},
        checkpoint_path=str(tmp_path / "b.pt"), log_path=str(tmp_path / "b.csv"), device="cpu",
    )  # fmt: skip
    assert sorted(reads) == sorted(images)  # each image decoded once over two epochs
    assert [r["loss"] for r in cached] == [r["loss"] for r in plain]


def test_init_from_a_checkpoint_starts_where_it_ended(tmp_path):
    images, labels = _toy()
    first = _train(tmp_path, images, labels)
    resumed = _train(
        tmp_path / "resumed",
        images,
        labels,
        cfg={"epochs": 1},
        init_checkpoint=str(tmp_path / "seg.pt"),
    )
    fresh = _train(tmp_path / "fresh", images, labels, cfg={"epochs": 1})
    assert resumed[0]["loss"] < fresh[0]["loss"]
    _train(
        tmp_path / "copy",
        images,
        labels,
        cfg={"epochs": 0},
        init_checkpoint=str(tmp_path / "seg.pt"),
    )
    start = torch.load(tmp_path / "seg.pt")["state_dict"]
    copied = torch.load(tmp_path / "copy" / "seg.pt")["state_dict"]
    assert all(torch.equal(start[k], copied[k]) for k in start) and len(first) == 6


def test_init_from_another_architecture_names_the_key(tmp_path):
    images, labels = _toy()
    _train(tmp_path, images, labels, cfg={"epochs": 1})
    with pytest.raises(ConfigError, match="`init`"):
        _train(tmp_path / "b", images, labels, cfg={"epochs": 1, "head": "largefov"},
               init_checkpoint=str(tmp_path / "seg.pt"))  # fmt: skip


@pytest.mark.parametrize(
    "options",
    [{"lr_schedule": "cosine"}, {"channels_last": True}, {"amp": True}],
    ids=["cosine", "channels_last", "bf16"],
)
def test_speed_options_still_learn(tmp_path, monkeypatch, options):
    monkeypatch.setattr("pixelnoise.device.native_bfloat16", lambda: True)  # bfloat16 for real
    images, labels = _toy()
    history = _train(tmp_path, images, labels, cfg=options)
    assert history[-1]["loss"] < 0.7 * history[0]["loss"]


@pytest.mark.parametrize(
    ("amp", "native", "dtype", "warnings"),
    [
        (True, False, torch.float32, 1),  # emulated bfloat16 is far slower: float32
        (True, True, torch.bfloat16, 0),
        (False, True, torch.float32, 0),
    ],
    ids=["amp-without-native-bf16", "amp-native-bf16", "no-amp"],
)
def test_amp_autocasts_to_bfloat16_only_where_the_cpu_runs_it(
    tmp_path, monkeypatch, caplog, amp, native, dtype, warnings
):
    monkeypatch.setattr("pixelnoise.device.native_bfloat16", lambda: native)
    images, labels = _toy()
    seen, cross_entropy = set(), supervised_step(void_cross_entropy)

    def step(model, batch, device):
        loss, outputs, targets = cross_entropy(model, batch, device)
        seen.add(outputs.dtype)
        return loss, outputs, targets

    with caplog.at_level(logging.WARNING, logger="pixelnoise.device"):
        _train(tmp_path, images, labels, cfg={"amp": amp, "epochs": 2}, step=step)
    assert seen == {dtype}
    messages = [r.getMessage() for r in caplog.records if r.name == "pixelnoise.device"]
    assert len(messages) == warnings
    for message in messages:
        assert "segment.network.amp" in message and cpu_capability() in message


def test_training_stops_when_the_loss_is_flat(tmp_path):
    images, labels = _toy()
    flat = {k: np.zeros_like(v) for k, v in labels.items()}  # one class: learnt at once
    history = _train(tmp_path, images, flat, cfg={"epochs": 30, "plateau_epochs": 2,
                                                  "plateau_tolerance": 0.5})  # fmt: skip
    assert 3 <= len(history) < 30
    assert len(pd.read_csv(tmp_path / "log.csv")) == len(history)


def test_init_from_a_classifier_takes_its_backbone_only(tmp_path):
    from pixelnoise.models.checkpoints import classifier_meta

    images, labels = _toy()
    torch.manual_seed(3)
    classifier = CamClassifier("resnet_tiny", 2)
    meta = classifier_meta(CFG, ["background", "red", "blue"], [1, 2], 0)
    save_checkpoint(tmp_path / "classifier.pt", classifier, meta)
    _train(tmp_path, images, labels, cfg={"epochs": 0},
           init_checkpoint=str(tmp_path / "classifier.pt"))  # fmt: skip
    state = torch.load(tmp_path / "seg.pt")["state_dict"]
    backbone = {k: v for k, v in classifier.state_dict().items() if k.startswith("backbone.")}
    assert backbone and all(torch.equal(state[k], v) for k, v in backbone.items())
    with pytest.raises(ConfigError, match="backbone is resnet_tiny"):
        _train(tmp_path / "b", images, labels, cfg={"epochs": 0, "backbone": "resnet_small"},
               init_checkpoint=str(tmp_path / "classifier.pt"))  # fmt: skip


def test_photometric_augmentation_changes_colours_not_geometry():
    from pixelnoise.training.segmentation import LabelledImages

    images, labels = _toy()
    plain = LabelledImages(sorted(images), images.__getitem__, labels.__getitem__, CFG, seed=3)
    cfg = {**CFG, "photometric": True}
    jittered = LabelledImages(sorted(images), images.__getitem__, labels.__getitem__, cfg, seed=3)
    changed = 0
    for index in range(len(images)):
        (image, target), (image_j, target_j) = plain[index], jittered[index]
        assert torch.equal(target, target_j)  # the same crop: the jitter draws after it
        changed += int(not torch.equal(image, image_j))
        # Colour changes keep the picture: the jittered crop still correlates with the plain one.
        assert np.corrcoef(image.flatten(), image_j.flatten())[0, 1] > 0.5
    assert changed == len(images)
