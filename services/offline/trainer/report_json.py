"""Trainer reports as strict JSON: a metric that cannot be computed is absent, never NaN.

Python's json writes NaN and Infinity as bare tokens that JSON.parse rejects; a held-out set without
hides (an imported ratings log) makes auc_hide NaN, so the trainers drop such metrics, list their
names under "absent_metrics", and write with allow_nan=False so a stray one fails here, loudly.
"""
import json
import math


def is_missing(value):
    return isinstance(value, float) and not math.isfinite(value)


def present_metrics(metrics):
    """(the metrics that could be computed, sorted names of those that could not)."""
    kept = {k: v for k, v in metrics.items() if not is_missing(v)}
    return kept, sorted(k for k in metrics if k not in kept)


def write_report(path, report):
    with open(path, "w") as f:
        json.dump(report, f, indent=2, allow_nan=False)
