"""Command line: ``python -m pixelnoise <command>`` (also installed as ``pixelnoise``).

The workflow itself runs through Snakemake; these commands serve single steps by hand.
"""

from __future__ import annotations

import argparse
import sys

from pixelnoise.errors import PixelnoiseError


def _generate(args: argparse.Namespace) -> None:
    from pixelnoise.data.synthetic import generate_dataset

    generate_dataset(args.root, seed=args.seed, n_train=args.n_train, n_val=args.n_val)
    print(f"wrote a synthetic dataset to {args.root}")


def _manifest(args: argparse.Namespace) -> None:
    from pixelnoise.data.manifest import build_manifest, write_manifest
    from pixelnoise.data.voc import VocDataset

    manifest = build_manifest(
        VocDataset(args.root), strong={"count": args.strong}, seed=args.seed
    )
    write_manifest(manifest, args.out)
    print(manifest["role"].value_counts().to_string())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixelnoise", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="write the synthetic VOC-style dataset")
    generate.add_argument("root")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--n-train", type=int, default=240)
    generate.add_argument("--n-val", type=int, default=60)
    generate.set_defaults(run=_generate)
    manifest = commands.add_parser("manifest", help="validate a VOC-style tree, write its manifest")
    manifest.add_argument("root")
    manifest.add_argument("--out", default="manifest.csv")
    manifest.add_argument("--strong", type=int, default=20, help="size of D_c")
    manifest.add_argument("--seed", type=int, default=0)
    manifest.set_defaults(run=_manifest)
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
