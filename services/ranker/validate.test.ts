import { describe, expect, it } from 'vitest';
import { UserContext } from '../../generated/feedloom/v1/common.js';
import type { RankRequest } from '../../generated/feedloom/v1/ranker.js';
import { validateRankRequest } from './validate.js';

const request = (candidates: RankRequest['candidates']): RankRequest => ({
  user: UserContext.fromPartial({ userId: 'u1', requestTimeMs: 1 }),
  candidates,
  requestId: '',
  modelVersion: '',
});
const ok = { itemId: 'i1', sources: [{ generator: 'pixie', rank: 0 }] };

describe('validateRankRequest', () => {
  it('passes a valid request, and names the path of the first bad field', () => {
    expect(validateRankRequest(request([ok]))).toEqual(request([ok]));
    const bad = (c: RankRequest['candidates'][number]) => () => validateRankRequest(request([ok, c]));
    expect(bad({ itemId: '', sources: [] })).toThrow(/candidates\[1\]\.item_id: is required/);
    expect(bad({ itemId: 'i1', sources: [] })).toThrow(/candidates\[1\]\.item_id: repeats "i1"/);
    const sources = (n: number) => Array.from({ length: n }, (_, j) => ({ generator: `g${j}`, rank: j }));
    expect(bad({ itemId: 'i2', sources: sources(65) })).toThrow(/candidates\[1\]\.sources: must hold at most 64/);
    expect(bad({ itemId: 'i2', sources: [...sources(2), { generator: '', rank: 0 }] })).toThrow(
      /candidates\[1\]\.sources\[2\]\.generator: is required/,
    );
    expect(bad({ itemId: 'i2', sources: [...sources(1), { generator: 'g', rank: -1 }] })).toThrow(
      /candidates\[1\]\.sources\[1\]\.rank: must be an integer from 0 to 1000000 \(got -1\)/,
    );
  });
});
