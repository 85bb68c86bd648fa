"""The ``benediff`` command (see ``benediff <command> --help``):

- ``benediff --version``
- ``benediff validate CONFIG...``: every check ``snakemake -n`` makes before any job (YAML
  syntax with file, line and column; every key against the schema; the raw files' headers and
  sizes, trial tables, regions, label mapping, the tables' and figures' settings), without
  Snakemake. Several files are layered as Snakemake layers ``--configfile a.yaml b.yaml`` (later
  files override earlier ones, key by key). ``check-config`` is the same command's old name.
- ``benediff landmarks ...``: place the atlas landmarks on a recording (writes landmarks.json)
"""

import argparse
import os
import sys


def version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version as dist_version

        return dist_version("benediff")
    except PackageNotFoundError:  # a checkout on sys.path, not installed
        from benediff import __version__

        return __version__


def layer(base: dict, top: dict) -> dict:
    """``top`` over ``base``, mappings merged key by key (Snakemake's --configfile layering)."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = layer(out[key], value)
        else:
            out[key] = value
    return out


def validate_files(paths, directory=None, out=None, err=None) -> int:
    """Run every parse-time check on the layered config files; 0 when the config is usable."""
    out, err = out or sys.stdout, err or sys.stderr
    from benediff.config import ConfigError, read_yaml, validate
    from benediff.preflight import config_problems

    try:
        raw = {}
        for path in paths:
            raw = layer(raw, read_yaml(path))
        config = validate(raw)
    except ConfigError as error:
        print(error, file=err)
        return 1
    here = os.getcwd()
    try:
        if directory:  # relative paths in the config are read from the run's directory
            os.chdir(directory)
        problems, warnings = config_problems(config)
    finally:
        os.chdir(here)
    names = " + ".join(str(p) for p in paths)
    for warning in warnings:
        print(f"warning: {warning}", file=err)
    if problems:
        n = len(problems)
        print(f"{names}: invalid input ({n} problem{'s' if n > 1 else ''}):\n  "
              + "\n  ".join(problems), file=err)
        return 1
    sessions = ", ".join(config["sessions"])
    print(f"{names}: valid (sessions {sessions}; every check made before any job passed)",
          file=out)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benediff", description="BeNeDiff helper commands; "
                                     "the pipeline itself runs with snakemake")
    parser.add_argument("--version", action="version", version=f"benediff {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("landmarks", add_help=False,
                   help="place the atlas landmarks on a recording (writes landmarks.json)")
    for name, text in (("validate", "check config file(s) as `snakemake -n` would, before any "
                        "job: YAML syntax, every key against the schema, the raw files, trial "
                        "tables, regions and label mapping"),
                       ("check-config", "the old name of validate")):
        check = sub.add_parser(name, help=text, description=text)
        check.add_argument("configfile", nargs="+",
                           help="config file(s), layered in order like snakemake --configfile")
        check.add_argument("--directory", "-d", default=None,
                           help="the run's working directory (relative paths in the config "
                           "are read from there; default: here)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "landmarks":
        from benediff.widefield.landmark_cli import main as landmarks_main

        return landmarks_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return validate_files(args.configfile, args.directory)


if __name__ == "__main__":
    sys.exit(main())
