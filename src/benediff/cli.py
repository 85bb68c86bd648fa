"""The ``benediff`` command: ``benediff landmarks ...``, ``benediff check-config <file>`` (see
``benediff <command> --help``)."""

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benediff", description="BeNeDiff helper commands; "
                                     "the pipeline itself runs with snakemake")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("landmarks", add_help=False,
                   help="place the atlas landmarks on a recording (writes landmarks.json)")
    check = sub.add_parser("check-config", help="check a config file: YAML syntax (file, line "
                           "and column of an error) and every key against the schema")
    check.add_argument("configfile")
    args, rest = parser.parse_known_args(argv)
    if args.command == "landmarks":
        from benediff.widefield.landmarks import main as landmarks_main

        return landmarks_main(rest)
    if args.command == "check-config":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        from benediff.config import ConfigError, load

        try:
            load(args.configfile)
        except ConfigError as err:
            print(err, file=sys.stderr)
            return 1
        print(f"{args.configfile}: valid")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
