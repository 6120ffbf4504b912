"""The fault-injection suite, long version: bigger volumes, more kills, a ten-minute cut-off.

Usage (from the repository root; about 25 minutes with the defaults, most of it the cut-off)::

    .venv/bin/python bench/faults.py                       # every scenario, LONG profile
    .venv/bin/python bench/faults.py --scenario broker_kill9 --broker-kills 50
    .venv/bin/python bench/faults.py --short               # the CI profile, as a table

It runs the same scenarios as ``tests/faults`` (``tests/faults/scenarios.py``) on its own stack
in a temporary folder: simulated gateways (virtual BLE straps -> ``nabd edge run``) publish while
the broker is killed with SIGKILL and restarted, PostgreSQL is stopped with ``-m immediate`` and
restarted, the ingest worker is killed with SIGKILL, one gateway is cut off from the broker, and
the broker's queue for the offline ingest session overflows. It prints, per scenario, what the
generator produced, what the database holds, missing and duplicated ``(device, seq)``, readings
left in the outboxes and the time from the end of the fault to a fully drained pipeline.
Exit status 1 if any scenario lost, duplicated or left anything.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.faults.scenarios import (  # noqa: E402
    LONG,
    SCENARIOS,
    SHORT,
    fault_context,
    with_overrides,
)
from tests.faults.tally import ScenarioResult, table  # noqa: E402


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI profile instead of LONG")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default all"
    )
    parser.add_argument("--gateways", type=int)
    parser.add_argument("--straps", type=int, help="straps per gateway")
    parser.add_argument("--rate-hz", type=float, help="heart rates per strap per second")
    parser.add_argument("--broker-kills", type=int)
    parser.add_argument("--pg-restarts", type=int)
    parser.add_argument("--ingest-kills", type=int)
    parser.add_argument("--cutoff-s", type=float, help="gateway cut-off (LONG: 600)")
    parser.add_argument("--overflow-limit", type=int, help="max_queued_messages for the overflow")
    parser.add_argument("--overflow-s", type=float, help="ingest offline this long")
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    profile = with_overrides(
        SHORT if args.short else LONG,
        gateways=args.gateways,
        straps=args.straps,
        rate_hz=args.rate_hz,
        broker_kills=args.broker_kills,
        pg_restarts=args.pg_restarts,
        ingest_kills=args.ingest_kills,
        cutoff_s=args.cutoff_s,
        overflow_limit=args.overflow_limit,
        overflow_s=args.overflow_s,
    )
    names = args.scenario or list(SCENARIOS)
    print(f"profile: {profile}", flush=True)
    results: list[ScenarioResult] = []
    started = time.monotonic()
    with fault_context(profile) as context:
        for name in names:
            print(f"running {name} ...", flush=True)
            results.append(SCENARIOS[name](context))
            print(table(results[-1:]), flush=True)
    print(f"\n{table(results)}\n(took {time.monotonic() - started:.0f} s)")
    return 0 if all(r.clean for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
