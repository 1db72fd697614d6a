import type { BlendCandidate, SourceAnswer } from './types.js';

/** Stage 3: one entry per item, keeping every generator that proposed it and the rank it gave. */
export function dedupe(answers: SourceAnswer[]): BlendCandidate[] {
  const byItem = new Map<string, BlendCandidate>();
  for (const answer of answers) {
    const generator = answer.status.generator;
    for (let rank = 0; rank < answer.candidates.length; rank++) {
      const c = answer.candidates[rank];
      const proposal = { generator, rank, score: c.score, reason: c.reason };
      const existing = byItem.get(c.itemId);
      if (existing) existing.proposals.push(proposal);
      else byItem.set(c.itemId, { itemId: c.itemId, proposals: [proposal], preScore: 0 });
    }
  }
  return [...byItem.values()];
}
