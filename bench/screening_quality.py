"""Screening quality on the labelled evaluation set, against naive baselines.

Usage (from the repository root)::

    python bench/screening_quality.py            # figures at the default thresholds
    python bench/screening_quality.py --sweep    # recall/FPR per threshold, for calibration

Definitions
-----------
* recall: share of positive queries whose labelled entry is returned.
* false-positive rate (FPR): share of negative queries that return any entry.
* precision: share of returned (query, entry) pairs that are the labelled
  entry of a positive query; a positive that also returns another entry
  counts that pair as a false positive.

Caveat: the evaluation set is synthetic and was written alongside the
matcher (see the docstring of tests/data/screening/make_eval.py for how its
labels are kept independent of any matcher). Chinese and Korean surname
romanisations (Zhang/Chang/Cheung, Lee/Yi/Rhee) are recognised through a
small table in the matcher that records the same public knowledge as the
generator's name groups, so recall on those variants measures that table.

Baselines: ``naive`` is NFKC + anyascii + casefold + punctuation removal and
``rapidfuzz.fuzz.token_sort_ratio >= 85`` against every name and alternate
name; ``naive+norm`` is the same scorer on this project's normalised names,
to show what the normalisation alone buys.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from anyascii import anyascii
from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.screening.listfile import ListEntry, parse_list  # noqa: E402
from app.screening.matching import (  # noqa: E402
    DEFAULT_AUTO_SUSPEND_THRESHOLD,
    DEFAULT_REVIEW_THRESHOLD,
    ScreeningIndex,
    normalize_name,
)

DATA = ROOT / "tests" / "data" / "screening"
NAIVE_THRESHOLD = 85.0
LOWEST = 50.0


@dataclass(frozen=True)
class Query:
    query_id: str
    label: str
    kind: str
    text: str
    countries: tuple[str, ...]
    entry_id: str


def load() -> tuple[list[ListEntry], list[Query]]:
    entries = parse_list((DATA / "eval_list.csv").read_bytes()).entries
    with (DATA / "eval_queries.csv").open(newline="", encoding="utf-8") as fh:
        queries = [
            Query(
                row["query_id"], row["label"], row["kind"], row["query"],
                tuple(c for c in row["countries"].split(";") if c), row["entry_id"],
            )
            for row in csv.DictReader(fh)
        ]
    return entries, queries


# Each matcher returns, per query, {entry_id: score} for scores >= LOWEST.
Scores = list[dict[str, float]]


def ours(entries: Sequence[ListEntry], queries: Sequence[Query]) -> Scores:
    index = ScreeningIndex(entries)
    results = index.match_many([(q.text, q.countries) for q in queries], threshold=LOWEST)
    return [{m.entry_id: m.score for m in matches} for matches in results]


def _basic_normalise(name: str) -> str:
    text = anyascii(unicodedata.normalize("NFKC", name)).casefold()
    return " ".join(re.split(r"[^a-z0-9]+", text)).strip()


def naive(
    entries: Sequence[ListEntry], queries: Sequence[Query], normalise: Callable[[str], str]
) -> Scores:
    names: list[str] = []
    owners: list[str] = []
    for entry in entries:
        for text in (entry.name, *entry.alt_names):
            names.append(normalise(text))
            owners.append(entry.entry_id)
    matrix = process.cdist(
        [normalise(q.text) for q in queries], names, scorer=fuzz.token_sort_ratio,
        score_cutoff=LOWEST, dtype=np.float32, workers=-1,
    )
    out: Scores = []
    for row in matrix:
        best: dict[str, float] = {}
        for col in np.flatnonzero(row).tolist():
            owner = owners[col]
            best[owner] = max(best.get(owner, 0.0), float(row[col]))
        out.append(best)
    return out


@dataclass
class Figures:
    recall: float
    fpr: float
    precision: float
    per_kind: dict[str, float]


def evaluate(queries: Sequence[Query], scores: Scores, threshold: float) -> Figures:
    hits: dict[str, list[bool]] = defaultdict(list)
    tp = fp = 0
    pos_found = pos_total = neg_flagged = neg_total = 0
    for q, found in zip(queries, scores, strict=True):
        returned = {e for e, s in found.items() if s >= threshold}
        if q.label == "positive":
            ok = q.entry_id in returned
            pos_total += 1
            pos_found += ok
            tp += ok
            fp += len(returned) - ok
            hits[q.kind].append(ok)
        else:
            flagged = bool(returned)
            neg_total += 1
            neg_flagged += flagged
            fp += len(returned)
            hits[q.kind].append(flagged)
    return Figures(
        recall=pos_found / pos_total,
        fpr=neg_flagged / neg_total,
        precision=tp / (tp + fp) if tp + fp else 1.0,
        per_kind={k: sum(v) / len(v) for k, v in hits.items()},
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", action="store_true", help="print recall/FPR per threshold")
    parser.add_argument("--misses", action="store_true", help="list our errors at review")
    args = parser.parse_args(argv)

    entries, queries = load()
    started = time.perf_counter()
    our_scores = ours(entries, queries)
    elapsed = time.perf_counter() - started
    naive_scores = naive(entries, queries, _basic_normalise)
    norm_scores = naive(entries, queries, normalize_name)

    positives = sum(q.label == "positive" for q in queries)
    print(f"evaluation set: {len(entries)} list entries, {positives} positive and "
          f"{len(queries) - positives} negative queries; ours took {elapsed:.2f}s\n")

    columns = [
        (f"ours@{DEFAULT_REVIEW_THRESHOLD:g}",
         evaluate(queries, our_scores, DEFAULT_REVIEW_THRESHOLD)),
        (f"ours@{DEFAULT_AUTO_SUSPEND_THRESHOLD:g}",
         evaluate(queries, our_scores, DEFAULT_AUTO_SUSPEND_THRESHOLD)),
        (f"naive@{NAIVE_THRESHOLD:g}", evaluate(queries, naive_scores, NAIVE_THRESHOLD)),
        (f"naive+norm@{NAIVE_THRESHOLD:g}", evaluate(queries, norm_scores, NAIVE_THRESHOLD)),
    ]
    header = f"{'':34}" + "".join(f"{name:>18}" for name, _ in columns)
    print(header)
    for label, attr in (("recall", "recall"), ("precision", "precision"),
                        ("false-positive rate", "fpr")):
        print(f"{label:34}" + "".join(f"{getattr(f, attr):>18.4f}" for _, f in columns))

    counts: dict[tuple[str, str], int] = defaultdict(int)
    for q in queries:
        counts[(q.label, q.kind)] += 1
    for label, title in (("positive", "recall by variant kind"),
                         ("negative", "false-positive rate by negative kind")):
        print(f"\n{title}")
        for (lab, kind), n in sorted(counts.items()):
            if lab != label:
                continue
            print(f"  {kind + f' (n={n})':32}" +
                  "".join(f"{f.per_kind[kind]:>18.4f}" for _, f in columns))

    if args.sweep:
        print("\nthreshold sweep (ours): threshold recall fpr precision")
        for t in np.arange(70.0, 100.01, 1.0):
            f = evaluate(queries, our_scores, float(t))
            print(f"  {t:6.1f} {f.recall:.4f} {f.fpr:.4f} {f.precision:.4f}")
        neg_max = max((max(s.values(), default=0.0)
                       for q, s in zip(queries, our_scores, strict=True)
                       if q.label == "negative"), default=0.0)
        print(f"highest-scoring negative: {neg_max:.2f}")

    if args.misses:
        t = DEFAULT_REVIEW_THRESHOLD
        names = {e.entry_id: e.name for e in entries}
        print(f"\nerrors at {t:g}:")
        for q, s in zip(queries, our_scores, strict=True):
            if q.label == "positive" and s.get(q.entry_id, 0.0) < t:
                print(f"  MISS {q.kind:24} {q.text!r} -> {names[q.entry_id]!r} "
                      f"score={s.get(q.entry_id, 0.0):.1f}")
            if q.label == "negative":
                for e, sc in s.items():
                    if sc >= t:
                        print(f"  FP   {q.kind:24} {q.text!r} ~ {names[e]!r} score={sc:.1f}")


if __name__ == "__main__":
    main()
