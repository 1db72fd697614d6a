// Offline ranking metrics (the same definitions as services/offline/trainer/ranker_metrics.py).

/** ROC AUC: the chance a random positive scores above a random negative, ties counted half. NaN without both classes. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j < n && scores[order[j]] === scores[order[i]]) j++;
    const avgRank = (i + 1 + j) / 2; // 1-based ranks i+1..j share their average
    for (let k = i; k < j; k++) {
      if (labels[order[k]] > 0) {
        pos++;
        rankSum += avgRank;
      }
    }
    i = j;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * HIT@k over requests: the share of requests with at least one positive whose top k by score holds
 * one. Ties keep the request's own order (page order).
 */
export function hitAtK(
  requests: readonly { scores: ArrayLike<number>; labels: ArrayLike<number> }[],
  k: number,
): { hit: number; requests: number } {
  let hits = 0;
  let total = 0;
  for (const r of requests) {
    const n = r.labels.length;
    let any = false;
    for (let i = 0; i < n; i++) if (r.labels[i] > 0) any = true;
    if (!any) continue;
    total++;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => r.scores[b] - r.scores[a] || a - b);
    if (order.slice(0, k).some((i) => r.labels[i] > 0)) hits++;
  }
  return { hit: total ? hits / total : NaN, requests: total };
}

/**
 * Recall@k over requests: per request with at least one positive, the positives in its top k by
 * score over min(k, positives) (the eval's recall@K within the request's candidates), averaged.
 * Ties keep the request's own order.
 */
export function recallAtK(
  requests: readonly { scores: ArrayLike<number>; labels: ArrayLike<number> }[],
  k: number,
): { recall: number; requests: number } {
  let sum = 0;
  let total = 0;
  for (const r of requests) {
    const n = r.labels.length;
    let positives = 0;
    for (let i = 0; i < n; i++) if (r.labels[i] > 0) positives++;
    if (positives === 0) continue;
    total++;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => r.scores[b] - r.scores[a] || a - b);
    sum += order.slice(0, k).filter((i) => r.labels[i] > 0).length / Math.min(k, positives);
  }
  return { recall: total ? sum / total : NaN, requests: total };
}
