"""Comparing methods whose scores come from repeated trainings: differences and their noise.

A difference of two methods' mean mIoU is said to *exceed the noise* when it is larger than
twice its standard error, ``2 * sqrt(s_a²/n_a + s_b²/n_b)`` (s: the standard deviation over a
method's repeats, n: their number) — roughly a 95 % interval for the difference of the means.
With a single training of either method there is no spread to compare with, and the verdict is
``None`` ("not measured"), never a silent "significant".

The run's *recommended* network (:func:`recommendation`) is the one whose lead over every other
network that does not read weak masks exceeds the noise; with no such network, none is named.

>>> d = difference(60.0, 1.0, 3, 55.0, 1.5, 3)
>>> round(d.delta, 2), round(d.noise, 2), d.exceeds
(5.0, 2.08, True)
>>> difference(60.0, 2.0, 3, 59.0, 2.0, 3).exceeds
False
>>> difference(60.0, float("nan"), 1, 50.0, 1.0, 3).describe()
'+10.00 (1 run, no spread)'

"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Difference:
    delta: float  # a - b
    noise: float | None  # twice the standard error of the difference, None without repeats
    exceeds: bool | None  # |delta| > noise; None when the noise is unknown

    def describe(self) -> str:
        """E.g. ``+5.00 (> noise 2.08)`` or ``+0.40 (within noise 2.10)``."""
        if self.exceeds is None:
            return f"{self.delta:+.2f} (1 run, no spread)"
        relation = "> noise" if self.exceeds else "within noise"
        return f"{self.delta:+.2f} ({relation} {self.noise:.2f})"


def difference(mean_a, std_a, n_a, mean_b, std_b, n_b) -> Difference:
    delta = float(mean_a) - float(mean_b)
    if n_a < 2 or n_b < 2 or not (math.isfinite(std_a) and math.isfinite(std_b)):
        return Difference(delta, None, None)
    noise = 2.0 * math.sqrt(std_a**2 / n_a + std_b**2 / n_b)
    return Difference(delta, noise, abs(delta) > noise)


def _row(table: pd.DataFrame, method: str):
    rows = table[table["method"] == method]
    return None if rows.empty else rows.iloc[0]


def versus(table: pd.DataFrame, method: str, baseline: str) -> Difference | None:
    """``method`` minus ``baseline`` in a segmentation table (``miou``, ``miou_std``,
    ``repeats`` columns), or None if either is missing."""
    a, b = _row(table, method), _row(table, baseline)
    if a is None or b is None:
        return None
    return difference(a.miou, a.miou_std, a.repeats, b.miou, b.miou_std, b.repeats)


def _spread(row) -> str:
    """``mean ± std (n=k)``, without the ± for a single training."""
    spread = "" if row.repeats < 2 else f" ± {row.miou_std:.2f}"
    return f"{row.miou:.2f}{spread} (n={row.repeats})"


def side_by_side(segmentation: pd.DataFrame, pseudo: pd.DataFrame, baselines=("cam", "dc_only")):
    """One row per segmentation method: its pseudo labels' mIoU on D_n (where it has them), its
    network's val mIoU as mean ± std (n), and its gain over each baseline with the verdict."""
    pseudo_miou = dict(zip(pseudo["method"], pseudo["miou"], strict=True))
    rows = []
    for row in segmentation.itertuples():
        entry = {
            "method": row.method,
            "pseudo-label mIoU (D_n)": (
                f"{pseudo_miou[row.method]:.2f}" if row.method in pseudo_miou else "—"
            ),
            "segmentation mIoU (val)": _spread(row),
        }
        for baseline in baselines:
            gain = versus(segmentation, row.method, baseline) if row.method != baseline else None
            entry[f"vs {baseline}"] = "—" if gain is None else gain.describe()
        entry["reads_weak_masks"] = bool(row.reads_weak_masks)
        rows.append(entry)
    return pd.DataFrame(rows)


def headline(segmentation: pd.DataFrame, baselines=("cam", "dc_only")) -> list[str]:
    """Plain sentences for the top of the report: which method won, by how much, and whether
    that exceeds the noise. Upper bounds (reads_weak_masks) and baselines do not compete."""
    contenders = segmentation[~segmentation["reads_weak_masks"].astype(bool)]
    contenders = contenders[~contenders["method"].isin(["dc_only"])]
    if contenders.empty:
        return ["No segmentation method was trained besides the baselines."]
    if contenders["miou"].isna().all():
        return [
            "No val score exists: no val image has a mask. The segmentation networks were "
            "trained and saved, and their val predictions written, but cannot be ranked."
        ]
    contenders = contenders[contenders["miou"].notna()]
    best = contenders.sort_values("miou", ascending=False).iloc[0]
    spread = "" if best.repeats < 2 else f" ± {best.miou_std:.2f}"
    lines = [
        f"Best segmentation network: **{best.method}**, val mIoU {best.miou:.2f}{spread} over "
        f"{best.repeats} training(s)."
    ]
    for baseline in baselines:
        if baseline == best.method:
            continue
        gain = versus(segmentation, best.method, baseline)
        if gain is None:
            continue
        verdict = {
            True: "a difference larger than the noise",
            False: "within the noise: not a demonstrated difference",
            None: "single trainings, so the noise is not measured (set segment.repeats)",
        }[gain.exceeds]
        lines.append(f"Over {baseline}: {gain.delta:+.2f} points, {verdict}.")
    runner_up = contenders[contenders["method"] != best.method]
    if not runner_up.empty:
        second = runner_up.sort_values("miou", ascending=False).iloc[0]
        gain = versus(segmentation, best.method, second.method)
        verdict = {True: "exceeds", False: "does not exceed", None: "cannot be compared with"}[
            gain.exceeds
        ]
        lines.append(
            f"Its lead over the runner-up, {second.method}, is {gain.delta:+.2f} points and "
            f"{verdict} the noise."
        )
    return lines


def ranked(segmentation: pd.DataFrame) -> pd.DataFrame:
    """The networks that compete, best mean first: upper bounds (reads_weak_masks) and
    networks without a val score are left out."""
    competing = segmentation[~segmentation["reads_weak_masks"].astype(bool)]
    competing = competing[competing["miou"].notna()]
    return competing.sort_values("miou", ascending=False, kind="stable").reset_index(drop=True)


def league_table(segmentation: pd.DataFrame, families: dict[str, str]) -> pd.DataFrame:
    """One row per competing network, best mean first: its family (``families``: method ->
    family), val mIoU as mean ± std (n), and its difference to the leader and to the network
    ranked just below it, each with its verdict against the noise (:func:`difference`)."""
    table = ranked(segmentation)
    rows = []
    for rank, row in enumerate(table.itertuples(), start=1):
        below = table.iloc[rank] if rank < len(table) else None
        to_leader = versus(table, row.method, table.iloc[0].method) if rank > 1 else None
        to_below = versus(table, row.method, below.method) if below is not None else None
        rows.append({
            "rank": rank,
            "network": row.method,
            "family": families.get(row.method, "—"),
            "val mIoU": _spread(row),
            "vs leader": "—" if to_leader is None else to_leader.describe(),
            "vs next below": "—" if to_below is None else to_below.describe(),
        })  # fmt: skip
    return pd.DataFrame(
        rows, columns=["rank", "network", "family", "val mIoU", "vs leader", "vs next below"]
    )


def recommendation(segmentation: pd.DataFrame, baseline: str = "dc_only") -> str:
    """One sentence naming the best network of the run beyond the noise, or saying none is.

    The leader (highest mean val mIoU among the networks that do not read weak masks, the
    ``baseline`` trained on D_c alone aside) is recommended when its lead over *every* other
    such network exceeds the noise (:func:`difference`) and it scores above the baseline. A
    single training of either side measures no noise, so it never earns a recommendation."""
    table = ranked(segmentation)
    contenders = table[table["method"] != baseline].reset_index(drop=True)
    if contenders.empty:
        return "No network can be recommended: none trained on weak labels has a val score."
    leader = contenders.iloc[0]
    score = f"val mIoU {leader.miou:.2f}" + (
        " over one training"
        if leader.repeats < 2
        else f" ± {leader.miou_std:.2f} over {leader.repeats} trainings"
    )
    base = _row(table, baseline)
    if base is not None and base.miou >= leader.miou:
        return (
            f"No network can be recommended: the best trained on weak labels, {leader.method} "
            f"({score}), does not beat {baseline}, trained on D_c alone ({base.miou:.2f})."
        )
    if len(contenders) == 1:
        return (
            f"No network can be recommended beyond the noise: {leader.method} ({score}) is the "
            "only network trained on weak labels, with nothing to compare it to."
        )
    leads = {other: versus(contenders, leader.method, other) for other in contenders["method"][1:]}
    if any(lead.exceeds is None for lead in leads.values()):
        return (
            f"No network can be recommended beyond the noise: {leader.method} scores highest "
            f"({score}), but single trainings measure no noise (set `segment.repeats` to 3 "
            "or more)."
        )
    tied = [other for other, lead in leads.items() if not lead.exceeds]
    if tied:
        return (
            f"No network is best beyond the noise: {leader.method} leads ({score}), but "
            f"{_join(tied)} {'is' if len(tied) == 1 else 'are'} within the noise of it."
        )
    runner_up = contenders.iloc[1].method
    lead = leads[runner_up]
    over_base = "" if base is None else f" and above {baseline} ({base.miou:.2f})"
    return (
        f"Recommended: **{leader.method}** ({score}), ahead of every other network trained "
        f"on weak labels beyond the noise (the runner-up, {runner_up}, by {lead.delta:+.2f} "
        f"against a noise of {lead.noise:.2f}){over_base}."
    )


def _join(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
