"""Offline ranking metrics, the same definitions as libs/ranking/metrics.ts."""
import numpy as np


def auc(scores, labels):
    """ROC AUC with ties counted half (average ranks); NaN when a class is missing."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels) > 0
    pos = int(labels.sum())
    neg = labels.shape[0] - pos
    if pos == 0 or neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    avg_rank = upper - (counts - 1) / 2.0  # 1-based average rank of each distinct score
    ranks = avg_rank[inverse]
    return float((ranks[labels].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def hit_at_k(scores, labels, groups, k):
    """Share of groups (requests) with a positive whose top k by score holds one. Ties: page order."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels) > 0
    hits, total = 0, 0
    for start, end in groups:
        lab = labels[start:end]
        if not lab.any():
            continue
        total += 1
        order = np.argsort(-scores[start:end], kind="stable")
        if lab[order[:k]].any():
            hits += 1
    return (hits / total if total else float("nan")), total
