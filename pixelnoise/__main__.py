"""Command line: ``python -m pixelnoise <command>`` (also installed as ``pixelnoise``).

The workflow itself runs through Snakemake; these commands serve single steps by hand.
"""

from __future__ import annotations

import argparse
import sys

from pixelnoise.errors import PixelnoiseError


def _generate(args: argparse.Namespace) -> None:
    from pixelnoise.data.synthetic import generate_dataset

    generate_dataset(
        args.root,
        seed=args.seed,
        n_train=args.n_train,
        n_val=args.n_val,
        size_range=tuple(args.size_range),
    )
    print(f"wrote a synthetic dataset to {args.root}")


def _manifest(args: argparse.Namespace) -> None:
    from pixelnoise.data.manifest import build_manifest, write_manifest
    from pixelnoise.data.voc import VocDataset

    manifest = build_manifest(VocDataset(args.root), strong={"count": args.strong}, seed=args.seed)
    write_manifest(manifest, args.out)
    print(manifest["role"].value_counts().to_string())


def _evaluate(args: argparse.Namespace) -> None:
    from pixelnoise.atomic import check_outside_runs
    from pixelnoise.config import schema_defaults
    from pixelnoise.evaluation import evaluate_checkpoint

    check_outside_runs(args.out)  # the workflow's own evaluations write there, not this command
    row = evaluate_checkpoint(
        checkpoint=args.checkpoint,
        data_root=args.data_root,
        split=args.split,
        out_dir=args.out,
        scales=args.scales,
        flip=args.flip,
        crf=schema_defaults()["crf"] if args.crf else None,
        device=args.device,
    )
    print(f"{row['images']} images, pixel accuracy {row['pixel_acc']:.4f}; wrote {args.out}")
    print(f"mIoU={row['miou']:.2f}")


def build_parser() -> argparse.ArgumentParser:
    from pixelnoise.config import schema_defaults

    # Defaults are the config's (workflow/schemas/config.schema.yaml), as the workflow uses them.
    defaults = schema_defaults()
    synthetic = defaults["dataset"]["synthetic"]
    parser = argparse.ArgumentParser(prog="pixelnoise", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="write the synthetic VOC-style dataset")
    generate.add_argument("root")
    generate.add_argument("--seed", type=int, default=synthetic["seed"])
    generate.add_argument("--n-train", type=int, default=synthetic["n_train"])
    generate.add_argument("--n-val", type=int, default=synthetic["n_val"])
    generate.add_argument(
        "--size-range",
        type=int,
        nargs=2,
        metavar=("LO", "HI"),
        default=synthetic["size_range"],
        help="inclusive range of image height and width",
    )
    generate.set_defaults(run=_generate)
    manifest = commands.add_parser("manifest", help="validate a VOC-style tree, write its manifest")
    manifest.add_argument("root")
    manifest.add_argument("--out", default="manifest.csv")
    manifest.add_argument(
        "--strong", type=int, default=defaults["split"]["strong"]["count"], help="size of D_c"
    )
    manifest.add_argument("--seed", type=int, default=defaults["split"]["seed"])
    manifest.set_defaults(run=_manifest)
    evaluate = commands.add_parser(
        "evaluate", help="evaluate a segmentation checkpoint on a split of a VOC-style folder"
    )
    evaluate.add_argument("--checkpoint", required=True, help="a .pt written by training")
    evaluate.add_argument("--data-root", required=True, help="a VOC-style dataset folder")
    evaluate.add_argument("--split", default="val", help="ImageSets/Segmentation/<split>.txt")
    evaluate.add_argument("--out", required=True, help="metrics.csv and predictions/ go here")
    evaluate.add_argument("--scales", type=float, nargs="+", default=[1.0])
    evaluate.add_argument("--flip", action="store_true", help="also average the mirror image")
    evaluate.add_argument(
        "--crf", action="store_true", help="dense CRF with the config's default parameters"
    )
    evaluate.add_argument("--device", default="auto")
    evaluate.set_defaults(run=_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except PixelnoiseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
