"""Write the shipped sample of past requests (``gateway_config/samples/requests-week.csv``).

A synthetic week of staging and prod traffic in the shape of the request log's export (Snowflake's
``REQUESTS`` view, downloaded as CSV): what ``python -m gateway_config cost`` reads. Volumes, token
sizes and cache hit rates per task are plausible, not measured; the seed makes the file reproducible.

    python -m tools.sample_requests [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tools.offline import ROOT

OUT = ROOT / "gateway_config" / "samples" / "requests-week.csv"
START = datetime(2026, 11, 23, tzinfo=UTC)
DAYS = 7
# task: (requests per day in prod, median prompt tokens, median completion tokens, cache hit rate)
TASKS = {
    "code_generation": (140, 1800, 550, 0.25),
    "business_intelligence": (60, 4200, 900, 0.10),
    "chat": (220, 650, 220, 0.30),
    "experimental": (20, 1100, 420, 0.0),
}
STAGING_SHARE = 0.15
COLUMNS = ["REQUEST_TIME", "ENVIRONMENT", "TASK", "PROMPT_TOKENS", "COMPLETION_TOKENS", "CACHE_STATUS", "SUCCEEDED"]


def rows(seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for environment, share in (("prod", 1.0), ("staging", STAGING_SHARE)):
        for task, (per_day, prompt, completion, hit_rate) in TASKS.items():
            for _ in range(round(per_day * DAYS * share)):
                at = START + timedelta(seconds=rng.uniform(0, DAYS * 86_400))
                succeeded = rng.random() > 0.004
                out.append(
                    {
                        "REQUEST_TIME": at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                        "ENVIRONMENT": environment,
                        "TASK": task,
                        "PROMPT_TOKENS": str(round(rng.lognormvariate(0, 0.6) * prompt)),
                        "COMPLETION_TOKENS": str(round(rng.lognormvariate(0, 0.5) * completion) if succeeded else 0),
                        "CACHE_STATUS": "hit" if succeeded and rng.random() < hit_rate else "miss",
                        "SUCCEEDED": "true" if succeeded else "false",
                    }
                )
    return sorted(out, key=lambda row: row["REQUEST_TIME"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
