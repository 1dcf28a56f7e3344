"""Stage: the qualitative grid (reads weak masks: an evaluation rule). Its columns are the
run's pseudo-label methods that the registry gives a figure title, in registry order."""

from __future__ import annotations

from pixelnoise.figures import qualitative_grid
from pixelnoise.methods import LABEL_MAPS, REGISTRY


def qualitative_figure(
    *,
    manifest_path: str,
    dataset_cfg: dict,
    label_dirs: dict[str, list[str]],
    checkpoint: str | None,
    out_path: str,
    count: int,
    seed: int,
    device: str,
) -> list[str]:
    titles = {
        name: REGISTRY.get(name, LABEL_MAPS).figure for name in REGISTRY.figure_methods(label_dirs)
    }
    return qualitative_grid(
        manifest_path=manifest_path,
        dataset_cfg=dataset_cfg,
        label_dirs=label_dirs,
        titles=titles,
        checkpoint=checkpoint,
        out_path=out_path,
        count=count,
        seed=seed,
        device=device,
    )
