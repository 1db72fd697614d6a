import type { Proposal } from '../../generated/feedloom/v1/blender.js';
import type { BlendCandidate, SourceAnswer } from './types.js';

/**
 * A small number for every item id this process has deduped: dedupe then finds an item's entry in
 * a typed array instead of a Map built per Blend. Reset past a bound, so churning ids cannot grow it.
 */
const numbers = new Map<string, number>();
const MAX_NUMBERED = 1 << 21;
/** Per item number: the dedupe call that last saw it (stamp), and its entry's index in that call. */
let stamp = new Int32Array(1 << 16);
let entryOf = new Int32Array(1 << 16);
let calls = 0;
/** Per proposal of the current call: its item's number (a second lookup would cost as much as the first). */
let numberAt = new Int32Array(1 << 13);

function numberOf(itemId: string): number {
  let n = numbers.get(itemId);
  if (n === undefined) {
    n = numbers.size;
    numbers.set(itemId, n);
    if (n >= stamp.length) {
      stamp = grown(stamp);
      entryOf = grown(entryOf);
    }
  }
  return n;
}

function grown(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * Stage 3: one entry per item, keeping every generator that proposed it and the rank it gave. Two
 * passes, so each item's proposal list is made at its final length: a Blend's ~4,400 proposals
 * otherwise grew hundreds of arrays and a Map, and those outlived enough scavenges to be promoted.
 */
export function dedupe(answers: SourceAnswer[]): BlendCandidate[] {
  let total = 0;
  for (const a of answers) total += a.candidates.length;
  // Renumber from scratch between calls, never within one (its numbers are in use until it returns).
  if (numbers.size + total > MAX_NUMBERED || calls === 0x7fffffff) {
    numbers.clear();
    stamp.fill(0);
    calls = 0;
  }
  const call = ++calls;
  if (numberAt.length < total) numberAt = new Int32Array(total * 2);
  // Pass 1: number every proposal's item, and count each item's proposals (in entryOf, for now).
  const counts: number[] = [];
  let at = 0;
  for (const answer of answers)
    for (const c of answer.candidates) {
      const n = numberOf(c.itemId);
      numberAt[at++] = n;
      if (stamp[n] !== call) {
        stamp[n] = call;
        entryOf[n] = counts.length;
        counts.push(1);
      } else counts[entryOf[n]]++;
    }
  // Pass 2: the entries in first-proposed order, each with its proposals in answer order.
  const merged: BlendCandidate[] = new Array(counts.length);
  const filled = new Int32Array(counts.length);
  at = 0;
  for (const answer of answers) {
    const generator = answer.status.generator;
    const candidates = answer.candidates;
    for (let rank = 0; rank < candidates.length; rank++) {
      const c = candidates[rank];
      const e = entryOf[numberAt[at++]];
      const proposal: Proposal = { generator, rank, score: c.score, reason: c.reason };
      if (filled[e] === 0) merged[e] = { itemId: c.itemId, proposals: new Array<Proposal>(counts[e]), preScore: 0 };
      merged[e].proposals[filled[e]++] = proposal;
    }
  }
  return merged;
}
