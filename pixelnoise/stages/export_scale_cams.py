"""Stage: one classifier's CAMs at a single scale (Fan et al. Sec. 4.3: the scales are kept
apart, not merged), for one shard of the train images: :func:`export_cams` with one scale."""

from __future__ import annotations

from pixelnoise.stages.export_cams import export_cams as export_scale_cams

__all__ = ["export_scale_cams"]
