"""Glue for the thin scripts in workflow/scripts: logging to the rule's log file, threads."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator


@contextlib.contextmanager
def rule_context(smk) -> Iterator[object]:
    """Send logging, stdout and stderr (tqdm) to the rule's log; use the rule's threads.

    On error the terminal gets one line, ``rule <name>: <ErrorType>: <message>``, the log gets
    the traceback (once), and the script exits with status 1, so Snakemake marks the job failed
    and deletes its (incomplete) outputs. (Re-raising would print the traceback again on the
    terminal, above Snakemake's copy of the log.)
    """
    log_path = smk.log[0] if len(smk.log) else None
    stream = open(log_path, "w", buffering=1) if log_path else sys.stderr  # noqa: SIM115
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # Warnings (e.g. a θ that keeps almost nothing) also reach the terminal, not only the log.
    screen = logging.StreamHandler(sys.__stderr__)
    screen.setLevel(logging.WARNING)
    screen.setFormatter(logging.Formatter(f"rule {smk.rule}: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.addHandler(screen)
    root.setLevel(logging.INFO)
    if "torch" in sys.modules:  # jobs that never import torch (label maps, tables) start faster
        sys.modules["torch"].set_num_threads(max(1, int(smk.threads)))
    try:
        with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            yield smk
    except Exception as error:
        line = f"rule {smk.rule}: {type(error).__name__}: {error}"
        print(line, file=sys.__stderr__, flush=True)
        print(f"{''.join(traceback.format_exception(error)).rstrip()}\n{line}", file=stream)
        raise SystemExit(1) from None
    finally:
        root.removeHandler(handler)
        root.removeHandler(screen)
        if log_path:
            stream.close()


def method_artifacts(inputs) -> dict[str, list[str]]:
    """A rule's named inputs as the artifacts a method consumes (registry key -> paths)."""
    from pixelnoise.methods.registry import artifact_key

    return {
        artifact_key(name): [value] if isinstance(value, str) else [str(v) for v in value]
        for name, value in inputs.items()
    }


def rule_tau_bg(smk) -> float | None:
    """The τ_bg a job applies: ``cam.tau_bg`` (its ``tau_bg`` param) if fixed, or with ``auto``
    the choice on D_c (its ``tau_bg`` input); None without a background class."""
    from pixelnoise.tau_bg import resolve_tau_bg

    return resolve_tau_bg(smk.params.tau_bg, [str(p) for p in smk.input.get("tau_bg", [])])
