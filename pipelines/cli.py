"""`python -m pipelines ...`: run the pipeline's steps from a shell (what Airflow's tasks call).

    python -m pipelines step compute --date 2026-01-20
    python -m pipelines run --date 2026-01-20
    python -m pipelines backfill --start 2026-01-18 --end 2026-01-20

Exit codes: 0 ok, 1 failed (retry may help), 3 validation failed (the data is bad: do not retry).
"""

from __future__ import annotations

import json
import sys

from labkit.cli_support import command, parser

EXIT_VALIDATION = 3


@command("python -m pipelines")
def main(argv: list[str] | None = None) -> int:
    from pipelines import steps
    from pipelines.validation import ValidationFailed

    p = parser("python -m pipelines", "the lab's batch feature pipeline")
    sub = p.add_subparsers(dest="cmd", required=True)
    one = sub.add_parser("step", help="run one step for one day")
    one.add_argument("name", choices=steps.STEPS)
    one.add_argument("--date", required=True, help="the feature day, YYYY-MM-DD")
    run = sub.add_parser("run", help="run every step for one day")
    run.add_argument("--date", required=True)
    bf = sub.add_parser("backfill", help="run every step for each day in [start, end]")
    bf.add_argument("--start", required=True)
    bf.add_argument("--end", required=True)
    args = p.parse_args(argv)
    try:
        if args.cmd == "step":
            out = steps.STEP_FUNCTIONS[args.name](steps.as_date(args.date))
        elif args.cmd == "run":
            out = steps.run_day(args.date)
        else:
            out = steps.backfill(args.start, args.end)
    except ValidationFailed as exc:
        print(exc.report, file=sys.stderr)
        return EXIT_VALIDATION
    print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
