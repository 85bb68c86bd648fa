"""The ``benediff`` command: ``benediff landmarks ...`` (see ``benediff <command> --help``)."""

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benediff", description="BeNeDiff helper commands; "
                                     "the pipeline itself runs with snakemake")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("landmarks", add_help=False,
                   help="place the atlas landmarks on a recording (writes landmarks.json)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "landmarks":
        from benediff.widefield.landmarks import main as landmarks_main

        return landmarks_main(rest)
    return 2


if __name__ == "__main__":
    sys.exit(main())
