"""Stage: a second CAM classifier of another architecture (Fan et al. Sec. 4.4, config
``second_classifier``), trained exactly like the first on every train image's labels: its CAMs
give a second set of pseudo-label estimates."""

from __future__ import annotations

from pixelnoise.stages.train_classifier import train_classifier as train_second_classifier

__all__ = ["train_second_classifier"]
