"""The scripts' glue: logs go to the rule's log file, warnings and errors also to the screen."""

import logging
from types import SimpleNamespace

import pytest

from pixelnoise.workflow import rule_context


def _smk(tmp_path):
    return SimpleNamespace(log=[str(tmp_path / "rule.log")], threads=1, rule="select_theta")


def test_warnings_reach_the_log_and_the_screen(tmp_path, capfd):
    with rule_context(_smk(tmp_path)):
        logging.getLogger("pixelnoise.test").info("routine detail")
        logging.getLogger("pixelnoise.test").warning("theta keeps %.2f%% of the pixels", 0.06)
    log = (tmp_path / "rule.log").read_text()
    assert "routine detail" in log and "theta keeps 0.06% of the pixels" in log
    screen = capfd.readouterr().err
    assert "rule select_theta: WARNING: theta keeps 0.06% of the pixels" in screen
    assert "routine detail" not in screen


def test_an_error_is_one_line_on_screen_and_its_traceback_once_in_the_log(tmp_path, capfd):
    with pytest.raises(SystemExit) as stop, rule_context(_smk(tmp_path)):
        raise ValueError("bad input in results/x.csv")
    assert stop.value.code == 1  # Snakemake marks the job failed
    log = (tmp_path / "rule.log").read_text()
    assert log.count("Traceback (most recent call last)") == 1
    assert log.rstrip().endswith("rule select_theta: ValueError: bad input in results/x.csv")
    screen = capfd.readouterr().err
    assert screen == "rule select_theta: ValueError: bad input in results/x.csv\n"
