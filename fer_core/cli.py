"""``fer`` — the command line of fer-book (also ``python -m fer_core``).

    fer book --profile small [--only data fesr] [--keep-going]   execute chapters, build the HTML book
             [--build-dir DIR]                                   (default _build/html)
    fer convert --out DIR                                        chapters -> .ipynb (for nbval)
    fer profiles [CHAPTER]                                       print the profile settings
    fer inspect PATH [--dataset NAME]                            what a dataset folder holds, who can use it
    fer bench [--quick]                                          throughput figures
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["main"]


def _cmd_book(args: argparse.Namespace) -> int:
    from fer_core.book import run_book

    return run_book(profile=args.profile, only=args.only, keep_going=args.keep_going, seed=args.seed,
                    data_root=args.data_root, device=args.device, build=not args.no_build, nproc=args.nproc,
                    build_dir=None if args.build_dir is None else Path(args.build_dir).resolve())


def _cmd_convert(args: argparse.Namespace) -> int:
    from fer_core.book import convert_all

    for path in convert_all(Path(args.out), only=args.only):
        print(path)
    return 0


def _cmd_profiles(args: argparse.Namespace) -> int:
    from fer_core.profiles import PROFILES

    chosen = {args.chapter: PROFILES[args.chapter]} if args.chapter else PROFILES
    print(json.dumps(chosen, indent=2, default=list))
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from fer_core.data.inspect import format_report, inspect_dataset

    report = inspect_dataset(args.path, name=args.dataset, check_images=not args.no_check_images)
    print(format_report(report))
    return 0 if report.ok else 1


def _cmd_bench(args: argparse.Namespace) -> int:
    from fer_core.bench import run_bench

    return run_bench(quick=args.quick, only=args.only, device=args.device, out=args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fer", description="fer-book: run chapters, inspect data, benchmark.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("book", help="execute chapters with papermill and build the HTML book")
    p.add_argument("--profile", default="small", choices=("smoke", "small", "paper"))
    p.add_argument("--only", nargs="+", metavar="CHAPTER", help="execute only these chapters (e.g. data fesr)")
    p.add_argument("--keep-going", action="store_true", help="build the other chapters when one fails")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None, help="folder of a real dataset (default: the synthetic world)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present, else CPU), cpu, cuda, cuda:1 ...")
    p.add_argument("--no-build", action="store_true", help="execute only; skip jupyter-book")
    p.add_argument("--build-dir", default=None, metavar="DIR",
                   help="where executed notebooks and the HTML book go (default: _build)")
    p.add_argument("--nproc", type=int, default=1, metavar="N", help="processes (GPUs) per training run, via torchrun")
    p.set_defaults(func=_cmd_book)

    p = sub.add_parser("convert", help="convert chapters to .ipynb without executing them")
    p.add_argument("--out", required=True)
    p.add_argument("--only", nargs="+", metavar="CHAPTER")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("profiles", help="print the smoke/small/paper settings")
    p.add_argument("chapter", nargs="?")
    p.set_defaults(func=_cmd_profiles)

    p = sub.add_parser("inspect", help="describe a dataset folder: what was found, per class/subject/view, "
                                       "problems, and the chapters that can use it")
    p.add_argument("path")
    p.add_argument("--dataset", default=None, help="dataset name (default: detect from the layout)")
    p.add_argument("--no-check-images", action="store_true", help="skip decoding every image (faster on large sets)")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("bench", help="throughput figures (images/s, step time, peak memory)")
    p.add_argument("--quick", action="store_true", help="small sizes, about a minute on a CPU")
    p.add_argument("--only", nargs="+", metavar="NAME")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=None, help="also write the table as JSON here")
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from fer_core.book import ChapterError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, ChapterError) as exc:
        # Errors raised on purpose carry a message that says what to fix; no traceback needed.
        print(f"fer {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
