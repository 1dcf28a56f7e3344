"""What ``amp: true`` trains in on each device (pixelnoise.device.autocast_dtype)."""

import logging

import pytest
import torch

from pixelnoise import device


@pytest.mark.parametrize("native", [False, True])
def test_cuda_keeps_float16_with_loss_scaling_whatever_the_cpu(monkeypatch, caplog, native):
    monkeypatch.setattr(device, "native_bfloat16", lambda: native)
    with caplog.at_level(logging.WARNING, logger="pixelnoise.device"):
        assert device.autocast_dtype("cuda", True, "segment.network") == torch.float16
        assert device.autocast_dtype("cuda", False, "segment.network") is None
    assert not caplog.records


def test_cpu_autocasts_to_bfloat16_only_when_it_runs_it_natively(monkeypatch, caplog):
    monkeypatch.setattr(device, "native_bfloat16", lambda: True)
    assert device.autocast_dtype("cpu", True, "clean_model") == torch.bfloat16
    monkeypatch.setattr(device, "native_bfloat16", lambda: False)
    with caplog.at_level(logging.WARNING, logger="pixelnoise.device"):
        assert device.autocast_dtype("cpu", True, "clean_model") is None
        assert device.autocast_dtype("cpu", False, "clean_model") is None
    [record] = caplog.records
    assert "clean_model.amp" in record.getMessage()
    assert device.cpu_capability() in record.getMessage()


def test_a_torch_without_the_probe_counts_as_no_native_bfloat16(monkeypatch):
    monkeypatch.setattr(torch.ops, "mkldnn", object())
    assert device.native_bfloat16() is False


def test_the_probe_is_torchs_own():
    expected = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert device.native_bfloat16() is expected


def test_the_classifiers_warning_names_its_own_section(tmp_path, monkeypatch, caplog):
    from pixelnoise.config import load_config
    from pixelnoise.data.synthetic import generate_dataset
    from pixelnoise.data.voc import VocDataset
    from pixelnoise.training.classifier import train_classifier

    monkeypatch.setattr(device, "native_bfloat16", lambda: False)
    generate_dataset(tmp_path / "data", seed=0, n_train=4, n_val=1, size_range=(40, 48))
    dataset = VocDataset(tmp_path / "data")
    cfg = {**load_config([])["second_classifier"], "amp": True, "epochs": 1, "batch_size": 2}
    with caplog.at_level(logging.WARNING, logger="pixelnoise.device"):
        train_classifier(
            dataset=dataset, ids=dataset.split_ids("train"), cfg=cfg,
            checkpoint_path=str(tmp_path / "c.pt"), log_path=str(tmp_path / "log.csv"),
            device="cpu", config_key="second_classifier",
        )  # fmt: skip
    [record] = caplog.records
    assert record.getMessage().startswith("second_classifier.amp is true")
