"""The paper's qualitative findings, claim by claim, on a finished run's tables.

    .venv/bin/python benchmarks/check_claims.py                 # after `make demo`
    .venv/bin/python benchmarks/check_claims.py --results path/to/results --strict

Reads ``results/tables/table{1,2,3}.csv``, the resolved config ``results/config.resolved.yaml``
(which session and region each table and Figure 4 use) and the Figure 4 fits' ``metrics.json``,
and prints each claim's outcome, ``holds``, ``fails`` or ``inconclusive`` (decided over seeds, two
standard errors; :mod:`benediff.claims` says how), with its numbers, then the three counts:

- Table 1: ``ours`` has a higher MIG than every baseline.
- Table 2: ``ours``' MIG above the standard VAE's; its R² within 5 points of the VAE's.
- Table 3: the order ours > w/o Beha, ours > w/o TC, w/o Beha > VAE, w/o TC > VAE (MIG).
- Figure 4: each behaviour's own latent decodes it (R² ≥ 10 %) and decodes every other
  behaviour below half that (single-mode), over seeds.
- Every MIG comparison also needs both sides above their shuffled-trials floors; the floor, the
  labels' own MIG (ceiling), the calibrated score and the supervised decoder are shown as
  references.
- Video (``specificity.csv``): :mod:`benediff.video.claims`; ``--control`` for the
  independent-behaviour control's acceptance.

``--min-mig X`` adds: every MIG of ``ours`` is at least X %; ``--min-calibrated F``: every calibrated
MIG of ``ours`` is at least F (0 = its floor, 1 = the labels' own MIG).
``--strict`` exits 1 when a claim fails. Nothing is tuned here: it only reads.
"""

import argparse
import sys
from pathlib import Path

from benediff.claims import FAILS, check, counts_text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results", help="the run's results/ folder")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a claim fails")
    parser.add_argument("--min-mig", type=float, default=None,
                        help="also claim every MIG of ours reaches this %% (the control: 30)")
    parser.add_argument("--min-calibrated", type=float, default=None,
                        help="also claim every calibrated MIG of ours reaches this fraction")
    parser.add_argument("--control", action="store_true",
                        help="the independent-behaviour control's video acceptance (make control)")
    args = parser.parse_args(argv)
    results = Path(args.results)
    if not (results / "tables").is_dir():
        print(f"{results}/tables does not exist: run the pipeline first (make demo)",
              file=sys.stderr)
        return 2
    claims = check(results, args.min_mig, args.control, args.min_calibrated)
    if not claims:
        print(f"no claim could be checked: {results}/tables holds none of table1-3.csv "
              "or specificity.csv")
        return 2
    width = max(len(c.text) for c in claims)
    for claim in claims:
        print(f"{claim.outcome:<12}  {claim.text:<{width}}  {claim.numbers}")
    print(f"\n{len(claims)} claims: {counts_text(claims)}")
    return 1 if args.strict and any(c.outcome == FAILS for c in claims) else 0


if __name__ == "__main__":
    sys.exit(main())
