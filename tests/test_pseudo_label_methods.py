import pytest

from pixelnoise.errors import ConfigError
from pixelnoise.methods import parse_method


@pytest.mark.parametrize(
    "method,expected",
    [
        ("cam", (None, False)),
        ("detect", (None, False)),
        ("detect_gat", ("detect_gat", False)),
        ("detect_gcn", ("detect_gcn", False)),
        ("camseeds_gat", ("camseeds_gat", False)),
        ("detect_gat_crf", ("detect_gat", True)),
        ("oracle_gat_crf", ("oracle_gat", True)),
    ],
)
def test_methods_map_to_correction_runs(method, expected):
    assert parse_method(method) == expected


@pytest.mark.parametrize("method", ["gat", "cam_crf", "detect_crf", "detect_sage"])
def test_unknown_method_is_a_clear_error(method):
    with pytest.raises(ConfigError, match="methods"):
        parse_method(method)
