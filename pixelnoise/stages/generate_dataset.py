"""Stage: generate the embedded synthetic dataset (``dataset.kind: synthetic``)."""

from __future__ import annotations

from pixelnoise.data.synthetic import generate_dataset as generate


def generate_dataset(*, out_dir: str, settings: dict) -> None:
    """``settings``: the config's ``dataset.synthetic`` section."""
    generate(out_dir, **{**settings, "size_range": tuple(settings["size_range"])})
