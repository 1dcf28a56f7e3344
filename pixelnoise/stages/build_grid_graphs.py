"""Stage: a pixel-grid graph per weak image (WSGCN's second graph kind), with the clean model's
features as nodes: :func:`pixelnoise.stages.build_graphs.build_graphs` with ``kind="grid"``
and the config's ``grid_graph`` section (``stride``, ``radius``)."""

from __future__ import annotations

from functools import partial

from pixelnoise.stages.build_graphs import build_graphs

build_grid_graphs = partial(build_graphs, kind="grid")
