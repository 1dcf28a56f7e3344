"""Stage: the pseudo labels of one method (registry, ``label_maps``) for one shard of weak
images, as palette PNGs, with ``summary.csv`` (which images fell back to CAM labels).

The method's module is imported only here, by name: ``cam`` and ``detect`` jobs never import
torch or DGL.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tqdm import tqdm

from pixelnoise.atomic import atomic_path, file_in
from pixelnoise.data.palette import save_label_png
from pixelnoise.methods import LABEL_MAPS, REGISTRY
from pixelnoise.run_data import MethodInputs, RunData


def write_pseudo_labels(
    *,
    method: str,
    manifest_path: str,
    dataset_cfg: dict,
    artifacts: dict[str, list[str]],
    params: dict,
    out_dir: str,
    shard: int,
    shards: int,
) -> pd.DataFrame:
    """``params``: ``tau_bg`` and ``crf`` (the config's section, or None without a CRF)."""
    spec = REGISTRY.get(method, LABEL_MAPS)
    run = RunData.load(dataset_cfg, manifest_path)
    label = spec.implementation().labeller(spec, MethodInputs(run, artifacts, params))
    ids = run.ids("weak", shard=shard, shards=shards)
    rows = []
    with atomic_path(out_dir, directory=True) as tmp:
        for image_id in tqdm(ids, desc=f"{method} shard {shard}", mininterval=5):
            labels, fallback = label(image_id)
            save_label_png(file_in(tmp, f"{image_id}.png"), labels)
            rows.append({"image_id": image_id, "fallback": fallback})
        summary = pd.DataFrame(rows, columns=["image_id", "fallback"])
        summary.to_csv(Path(tmp) / "summary.csv", index=False)
    return summary
