import numpy as np
import pytest

from pixelnoise.metrics import VOID, ConfusionMatrix


def test_perfect_prediction_scores_100():
    truth = np.array([[0, 1, 2], [2, 1, 0]])
    m = ConfusionMatrix(3)
    m.update(truth.copy(), truth)
    assert m.miou() == pytest.approx(100.0)
    assert m.precision() == 1.0 and m.coverage() == 1.0


def test_hand_checked_case_with_void_truth_and_unlabelled_prediction():
    truth = np.array([[0, 0, 1, 1], [1, 1, VOID, 2]])
    pred = np.array([[0, 1, 1, 1], [VOID, 1, 0, 2]])
    m = ConfusionMatrix(3)
    m.update(pred, truth)
    # labelled & valid: (0,0) (0->1) (1,1) (1,1) (1,1) (2,2); the void-truth pixel is ignored
    assert m.valid == 7 and m.labelled == 6
    iou = m.iou()
    assert iou[0] == pytest.approx(1 / 2)  # tp 1, truth-row 2, pred-col 1
    assert iou[1] == pytest.approx(3 / 4)  # tp 3, truth-row 3, pred-col 4
    assert iou[2] == pytest.approx(1.0)
    assert m.miou() == pytest.approx(100 * (0.5 + 0.75 + 1.0) / 3)
    assert m.precision() == pytest.approx(5 / 6)
    assert m.coverage() == pytest.approx(6 / 7)


def test_absent_class_is_nan_and_excluded_from_mean():
    m = ConfusionMatrix(4)
    m.update(np.array([0, 1]), np.array([0, 1]))
    assert np.isnan(m.iou()[3])
    assert m.miou() == pytest.approx(100.0)


def test_updates_accumulate_like_one_big_update():
    rng = np.random.default_rng(0)
    pred, truth = rng.integers(0, 4, (2, 10, 10)), rng.integers(0, 4, (2, 10, 10))
    split, whole = ConfusionMatrix(4), ConfusionMatrix(4)
    split.update(pred[0], truth[0])
    split.update(pred[1], truth[1])
    whole.update(pred, truth)
    assert np.array_equal(split.matrix, whole.matrix)


def test_shape_mismatch_and_bad_class_raise():
    m = ConfusionMatrix(2)
    with pytest.raises(ValueError, match="differ"):
        m.update(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="outside"):
        m.update(np.array([5]), np.array([0]))


def test_summary_names_classes_in_percent():
    m = ConfusionMatrix(2)
    m.update(np.array([0, 1, 1]), np.array([0, 1, 0]))
    row = m.summary(["sky", "cow"])
    assert row["iou_sky"] == pytest.approx(50.0) and row["iou_cow"] == pytest.approx(50.0)
    assert set(row) == {"miou", "precision", "coverage", "iou_sky", "iou_cow"}


def test_errors_split_one_minus_precision_by_kind():
    # background 0; objects 1, 2. Pixels: right, missed object, false object, wrong class,
    # two right, and one unlabelled (void prediction: not an error, only less coverage)
    truth = np.array([0, 1, 0, 1, 2, 1, 2])
    pred = np.array([0, 0, 2, 2, 2, 1, VOID])
    m = ConfusionMatrix(3)
    m.update(pred, truth)
    errors = m.errors(background=0)
    assert errors == pytest.approx({"missed_fg": 1 / 6, "false_fg": 1 / 6, "wrong_class": 1 / 6})
    assert sum(errors.values()) == pytest.approx(1 - m.precision())
    # with 2 as the background, truths 0 and 1 labelled 2 are missed objects, 1 as 0 a wrong class
    assert m.errors(background=2) == pytest.approx(
        {"missed_fg": 2 / 6, "false_fg": 0.0, "wrong_class": 1 / 6}
    )
