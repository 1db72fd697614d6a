import { describe, expect, it } from 'vitest';
import { SourceState } from '../../generated/feedloom/v1/blender.js';
import { dedupe } from './dedupe.js';
import type { SourceAnswer } from './types.js';

const answer = (generator: string, ids: string[]): SourceAnswer => ({
  status: {
    generator,
    state: SourceState.SOURCE_STATE_OK,
    candidates: ids.length,
    latencyMs: 1,
    error: '',
    snapshotVersion: '',
    modelVersion: '',
  },
  candidates: ids.map((itemId, i) => ({ itemId, score: 10 - i, reason: `${generator} reason` })),
});

describe('dedupe', () => {
  it('keeps one entry per item with every source and the rank each gave it', () => {
    const merged = dedupe([answer('a', ['x', 'y']), answer('b', ['y', 'z', 'x'])]);
    expect(merged.map((c) => c.itemId)).toEqual(['x', 'y', 'z']);
    expect(merged[0].proposals).toEqual([
      { generator: 'a', rank: 0, score: 10, reason: 'a reason' },
      { generator: 'b', rank: 2, score: 8, reason: 'b reason' },
    ]);
    expect(merged[1].proposals.map((p) => [p.generator, p.rank])).toEqual([
      ['a', 1],
      ['b', 0],
    ]);
  });

  it('is empty when every source failed', () => {
    expect(dedupe([answer('a', []), answer('b', [])])).toEqual([]);
  });
});
