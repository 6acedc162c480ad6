"""Screening speed on a synthetic 30,000-entry list.

Usage (from the repository root)::

    python bench/screening_speed.py [--entries 30000] [--bulk 10000] [--single 300]

Prints list parse and index build times, the median and 95th percentile
latency of single-name screening (``ScreeningIndex.match``), and the time
and peak resident memory of bulk re-screening (``ScreeningIndex.match_many``).
The bulk run happens in a fresh child process that parses the list, builds
the index and screens, so its peak RSS is that of a whole re-screening job.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests" / "data" / "screening"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import make_eval  # noqa: E402

from app.screening.listfile import parse_list  # noqa: E402
from app.screening.matching import DEFAULT_REVIEW_THRESHOLD, ScreeningIndex  # noqa: E402


def list_bytes(entries: int) -> bytes:
    rows = make_eval.generate_bench_list(entries)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=make_eval.CSL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in make_eval.CSL_COLUMNS})
    return buffer.getvalue().encode()


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bulk_child(list_path: str, queries_path: str) -> None:
    data = Path(list_path).read_bytes()
    queries = [tuple(q) for q in json.loads(Path(queries_path).read_text())]
    started = time.perf_counter()
    index = ScreeningIndex(parse_list(data).entries)
    built = time.perf_counter()
    results = index.match_many(
        [(name, [country]) for name, country in queries], threshold=DEFAULT_REVIEW_THRESHOLD
    )
    done = time.perf_counter()
    print(json.dumps({
        "build_s": built - started,
        "bulk_s": done - built,
        "flagged": sum(1 for r in results if r),
        "peak_rss_mb": peak_rss_mb(),
    }))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=30_000)
    parser.add_argument("--bulk", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=300)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        bulk_child(*args.child)
        return

    data = list_bytes(args.entries)
    started = time.perf_counter()
    parsed = parse_list(data)
    parsed_at = time.perf_counter()
    index = ScreeningIndex(parsed.entries)
    built_at = time.perf_counter()
    print(f"list: {len(parsed.entries)} entries, {index.name_count} names incl. alternates, "
          f"{len(data) / 1e6:.1f} MB CSV")
    print(f"parse {parsed_at - started:.2f}s, index build {built_at - parsed_at:.2f}s")

    members = make_eval.bench_queries(args.bulk)
    # Half member-like names (mostly no hit), half list names (hits to score).
    sample = [(name, [country]) for name, country in members[: args.single // 2]]
    sample += [(e.name, sorted(e.countries)) for e in parsed.entries[:: len(parsed.entries)
               // (args.single - len(sample))]][: args.single - len(sample)]
    index.match(sample[0][0], sample[0][1], threshold=DEFAULT_REVIEW_THRESHOLD)  # warm-up
    timings = []
    for name, countries in sample:
        t0 = time.perf_counter()
        index.match(name, countries, threshold=DEFAULT_REVIEW_THRESHOLD)
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    print(f"single name ({len(timings)} queries): median {statistics.median(timings):.2f} ms, "
          f"p95 {timings[int(len(timings) * 0.95) - 1]:.2f} ms, max {timings[-1]:.2f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        list_path = os.path.join(tmp, "list.csv")
        queries_path = os.path.join(tmp, "queries.json")
        Path(list_path).write_bytes(data)
        Path(queries_path).write_text(json.dumps(members))
        child = subprocess.run(  # noqa: S603 - this same script, fixed arguments
            [sys.executable, __file__, "--child", list_path, queries_path],
            check=True, capture_output=True, text=True,
        )
    report = json.loads(child.stdout)
    print(f"bulk re-screen of {len(members)} names (fresh process): "
          f"{report['bulk_s']:.1f}s after a {report['build_s']:.1f}s parse+build, "
          f"{report['flagged']} names flagged, peak RSS {report['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
