"""Segmentation training settings side by side: wall time, val mIoU over repeats, peak memory.

Trains the final segmentation network of a finished run (its manifest, pseudo labels and clean
model) once per seed for each setting, each training in a fresh child process (so that its peak
RSS is its own), evaluates it on val as the workflow does, and appends one row per training to
``--out`` (CSV). A setting is a name and ``key=value`` overrides of the config's
``segment.network`` section (values parsed as YAML):

    .venv/bin/python benchmarks/segmentation_training.py --configfile config/msrc21.yaml \
        --run-dir /tmp/msrc --method detect_gat_crf --seeds 0 1 2 --threads 2 \
        --setting today --setting "fast: init=clean_model epochs=15 cache_images=true" \
        --out docs/data/segmentation_training.csv

Prints, per setting, the mean ± standard deviation of the mIoU, seconds per training and per
epoch, and the largest peak RSS. Rows already in ``--out`` (same setting and seed) are not
trained again, so an interrupted comparison resumes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from pathlib import Path

import pandas as pd
import yaml

from pixelnoise.config import load_config


def parse_setting(text: str) -> tuple[str, dict]:
    """``"name: key=value key=value"`` (or just ``"name"``) -> (name, overrides)."""
    name, _, rest = text.partition(":")
    overrides = {}
    for item in rest.split():
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    return name.strip(), overrides


def train_and_evaluate(job: dict, results) -> None:
    """One training and its val evaluation (in a child process)."""
    import torch

    from pixelnoise.evaluation import evaluate_checkpoint
    from pixelnoise.run_data import RunData
    from pixelnoise.stages.train_segmentation import training_set
    from pixelnoise.training.segmentation import train_segmentation

    torch.set_num_threads(job["threads"])
    run_dir = Path(job["run_dir"])
    run = RunData.load(job["dataset"], str(run_dir / "results/data/manifest.csv"))
    if job["method"] == "dc_only":  # the clean model: D_c's masks only
        ids, read_labels = run.ids("strong"), run.dataset.read_mask
    else:
        label_dirs = sorted(
            str(p) for p in (run_dir / "results/pseudo_labels").glob(f"{job['method']}/shard*")
        )
        ids, read_labels = training_set(run, job["method"], label_dirs)
    out = Path(job["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / f"{job['setting']}_seed{job['seed']}.pt"
    cfg = job["cfg"]
    start = time.perf_counter()
    history = train_segmentation(
        ids=ids,
        read_image=run.dataset.read_image,
        read_labels=read_labels,
        class_names=list(run.dataset.classes.names),
        background=run.background,
        cfg=cfg,
        checkpoint_path=str(checkpoint),
        log_path=str(out / f"{job['setting']}_seed{job['seed']}_log.csv"),
        seed=job["seed"],
        device="cpu",
        init_checkpoint={
            None: None,
            "clean_model": str(run_dir / "results/models/clean.pt"),
            "classifier": str(run_dir / "results/models/classifier.pt"),
        }[cfg["init"]],
    )
    seconds = time.perf_counter() - start
    evaluation = job["evaluation"]
    row = evaluate_checkpoint(
        checkpoint=str(checkpoint),
        dataset=run.dataset,
        ids=run.ids("val"),
        out_dir=str(out / f"{job['setting']}_seed{job['seed']}_val"),
        scales=evaluation["scales"],
        flip=evaluation["flip"],
        device="cpu",
    )
    results.put(
        {
            "setting": job["setting"],
            "seed": job["seed"],
            "epochs": len(history),
            "seconds": round(seconds, 1),
            "seconds_per_epoch": round(seconds / len(history), 2),
            "miou": row["miou"],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "overrides": job["overrides"],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", action="append", default=[])
    parser.add_argument("--run-dir", required=True, help="a finished run's working directory")
    parser.add_argument(
        "--method",
        default="detect_gat_crf",
        help="pseudo labels to train on, or dc_only: the "
        "clean model (D_c only, the config's clean_model section)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--setting", action="append", required=True)
    parser.add_argument("--out", required=True, help="CSV, one row per training (appended)")
    parser.add_argument("--work-dir", default=None, help="checkpoints (default: next to --out)")
    args = parser.parse_args()
    config = load_config(args.configfile)
    out = Path(args.out)
    done = pd.read_csv(out) if out.is_file() else pd.DataFrame(columns=["setting", "seed"])
    work = Path(args.work_dir or out.with_suffix(""))
    root = Path(config["dataset"]["root"]).resolve()
    context = multiprocessing.get_context("spawn")  # a fresh process: its own peak RSS
    for text in args.setting:
        name, overrides = parse_setting(text)
        section = (
            config["clean_model"] if args.method == "dc_only" else config["segment"]["network"]
        )
        cfg = {"init": None, **section, **overrides}
        for seed in args.seeds:
            if ((done["setting"] == name) & (done["seed"] == seed)).any():
                continue
            results = context.Queue()
            job = {
                "setting": name, "seed": seed, "cfg": cfg, "method": args.method,
                "threads": args.threads, "run_dir": args.run_dir, "out_dir": str(work),
                "dataset": {**config["dataset"], "root": str(root)},
                "evaluation": config["segment"]["evaluation"],
                "overrides": " ".join(f"{k}={v}" for k, v in overrides.items()),
            }  # fmt: skip
            child = context.Process(target=train_and_evaluate, args=(job, results))
            child.start()
            row = results.get()
            child.join()
            print(row, flush=True)
            done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            done.to_csv(out, index=False)
    summary = done.groupby("setting", sort=False).agg(
        repeats=("miou", "size"),
        miou_mean=("miou", "mean"),
        miou_std=("miou", "std"),
        seconds_mean=("seconds", "mean"),
        seconds_per_epoch=("seconds_per_epoch", "mean"),
        peak_rss_mb=("peak_rss_mb", "max"),
    )
    print(summary.round(2).to_markdown())


if __name__ == "__main__":
    main()
