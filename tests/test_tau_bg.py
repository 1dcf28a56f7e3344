"""`cam.tau_bg: auto`: the rule that chooses τ_bg on D_c, and proof that the choice reads no
weak or val mask."""

import json

import numpy as np
import pandas as pd
import pytest
from voc_trees import write_voc_tree

from pixelnoise.arraystore import ArrayReader, ArrayWriter
from pixelnoise.data.manifest import build_manifest, ids_with_role, write_manifest
from pixelnoise.data.palette import save_label_png
from pixelnoise.data.voc import VocDataset
from pixelnoise.errors import ConfigError
from pixelnoise.run_data import RunData
from pixelnoise.stages.choose_tau_bg import choose_tau_bg
from pixelnoise.tau_bg import AUTO, choose_tau, resolve_tau_bg, tau_curve, used

H, W = 20, 24
TRAIN = [f"t{k}" for k in range(8)]
VAL = ["v0", "v1"]
SWEEP = [0.1, 0.2, 0.5, 0.7]
# The object's CAM is 0.6; the background's is 0.15 on D_c but 0.4 elsewhere, so D_c's masks
# favour τ in (0.15, 0.6] (0.2 and 0.5 tie: the smaller wins) and the weak images' τ = 0.5.
OBJECT_CAM, STRONG_BACKGROUND_CAM, OTHER_BACKGROUND_CAM = 0.6, 0.15, 0.4


def object_mask(k: int) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[4:12, 5:15] = 1 + k % 2
    return mask


@pytest.fixture
def run(tmp_path):
    """A VOC-style tree, its manifest (2 strong images) and one CAM store of every train image."""
    root = write_voc_tree(
        tmp_path / "voc", TRAIN, VAL, object_mask, lambda k: str(1 + k % 2),
        {"classes": ["background", "cat", "dog"]},
    )  # fmt: skip
    manifest = build_manifest(VocDataset(root), strong={"count": 2}, progress=False)
    write_manifest(manifest, tmp_path / "manifest.csv")
    strong = set(ids_with_role(manifest, "strong"))
    writer = ArrayWriter(tmp_path / "cams.zarr", {})
    for k, image_id in enumerate(TRAIN):
        mask = object_mask(k)
        low = STRONG_BACKGROUND_CAM if image_id in strong else OTHER_BACKGROUND_CAM
        cams = np.where(mask > 0, OBJECT_CAM, low)[None].astype(np.float32)
        writer.write(image_id, cams, classes=[1 + k % 2])
    return {"root": root, "manifest": tmp_path / "manifest.csv", "cams": tmp_path / "cams.zarr",
            "strong": strong, "out": tmp_path}  # fmt: skip


def choose(run, name="choice"):
    return choose_tau_bg(
        manifest_path=str(run["manifest"]), dataset_cfg={"root": str(run["root"])},
        cam_paths=[str(run["cams"])], sweep=SWEEP,
        out_json=str(run["out"] / f"{name}.json"), out_csv=str(run["out"] / f"{name}.csv"),
    )  # fmt: skip


def test_auto_chooses_on_dc_masks_and_records_the_choice_and_its_curve(run):
    choice = choose(run)
    assert choice["tau_bg"] == 0.2 and choice["chosen_on"] == "D_c"
    assert choice["strong_images"] == 2 and choice["miou"] == pytest.approx(100.0)
    assert json.loads((run["out"] / "choice.json").read_text()) == choice
    curve = pd.read_csv(run["out"] / "choice.csv")
    assert curve["tau_bg"].tolist() == SWEEP
    perfect = curve.loc[curve["miou"] > 99.99, "tau_bg"].tolist()
    assert perfect == [0.2, 0.5]  # 0.1 labels background as object, 0.7 the object background


def test_the_choice_reads_no_weak_or_val_mask(run, monkeypatch):
    """Weak and val masks poisoned (all background), then deleted, then unreadable: the same
    choice and curve. With them, a rule scored on all train masks would pick 0.5."""
    expected = choose(run, "clean")
    every_train_mask = tau_curve(RunData.load({"root": str(run["root"])}, str(run["manifest"])),
                                 ArrayReader([str(run["cams"])]), TRAIN, SWEEP, "all")  # fmt: skip
    assert choose_tau(every_train_mask) == 0.5 != expected["tau_bg"]
    curve = (run["out"] / "clean.csv").read_text()
    others = [i for i in TRAIN + VAL if i not in run["strong"]]
    for image_id in others:
        save_label_png(run["root"] / "SegmentationClass" / f"{image_id}.png",
                       np.zeros((H, W), np.uint8))  # fmt: skip
    assert choose(run, "poisoned") == expected
    assert (run["out"] / "poisoned.csv").read_text() == curve
    for image_id in others:
        (run["root"] / "SegmentationClass" / f"{image_id}.png").unlink()
    assert choose(run, "deleted") == expected

    def only_strong(original):
        def read(self, image_id):
            assert image_id in run["strong"], f"read the mask of {image_id}, not a D_c image"
            return original(self, image_id)

        return read

    for name in ("read_mask", "has_mask", "scoring_mask"):
        monkeypatch.setattr(VocDataset, name, only_strong(getattr(VocDataset, name)))
    assert choose(run, "guarded") == expected


def test_without_a_background_class_auto_is_a_no_op(run):
    (run["root"] / "classes.json").write_text(
        json.dumps({"classes": ["sky", "cat", "dog"], "background": None})
    )
    choice = choose(run)
    assert choice["tau_bg"] is None and "no background class" in choice["rule"]
    assert pd.read_csv(run["out"] / "choice.csv").empty
    assert resolve_tau_bg(AUTO, [str(run["out"] / "choice.json")]) is None


def test_the_rule_takes_the_best_miou_and_the_smaller_tau_on_a_tie():
    curve = pd.DataFrame({"tau_bg": [0.5, 0.1, 0.3, 0.2], "miou": [50.0, 40.0, 50.0, np.nan]})
    assert choose_tau(curve) == 0.3
    assert choose_tau(curve.assign(miou=[50.0, 40.0, 49.9, 60.0])) == 0.2
    assert choose_tau(curve.assign(miou=[np.nan, 1.0, np.nan, np.nan])) == 0.1
    with pytest.raises(ValueError, match="no usable mask"):
        choose_tau(curve.assign(miou=np.nan))


def test_a_job_applies_the_fixed_value_or_the_recorded_choice(tmp_path):
    assert resolve_tau_bg(0.05, []) == 0.05
    path = tmp_path / "tau_bg.json"
    path.write_text(json.dumps({"tau_bg": 0.25}))
    assert resolve_tau_bg(AUTO, [str(path)]) == 0.25
    with pytest.raises(ConfigError, match="cam.tau_bg: auto"):
        resolve_tau_bg(AUTO, [])


def test_auto_applies_only_with_a_background_class(run, tmp_path):
    """The workflow asks before planning: without a background class no choice is made and the
    rules get None (no input, no trigger)."""
    assert used({"kind": "voc", "root": str(run["root"])})
    (run["root"] / "classes.json").write_text(
        json.dumps({"classes": ["sky", "cat", "dog"], "background": None})
    )
    assert not used({"kind": "voc", "root": str(run["root"])})
    assert used({"kind": "voc", "root": str(run["root"]), "classes": ["background", "cat"]})
    not_generated = {"kind": "synthetic", "root": str(tmp_path / "later")}
    assert used(not_generated) and not used({**not_generated, "background": None})
    assert resolve_tau_bg(None, []) is None
