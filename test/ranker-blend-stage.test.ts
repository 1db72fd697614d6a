// The blender's rank stage against a real gRPC Ranker whose behaviour the test controls: it orders
// the top N by utility and keeps the rest in pre-score order; when the ranker is late, fails or
// answers for other items, the pre-score order stands with the reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { UserContext } from '../generated/feedloom/v1/common.js';
import { RankerClient, RankerService, type RankRequest, type RankResponse } from '../generated/feedloom/v1/ranker.js';
import { connect } from '../libs/bootstrap/client.js';
import { RpcError } from '../libs/bootstrap/errors.js';
import { bindService, startServer, type RunningServer } from '../libs/bootstrap/server.js';
import { rank, type RankerEndpoint } from '../services/blender/stages/rank.js';
import type { BlendCandidate } from '../libs/blend/types.js';

type Mode = 'ok' | 'slow' | 'error' | 'mismatch';

describe('blender rank stage', () => {
  let mode: Mode = 'ok';
  let server: RunningServer;
  let client: RankerClient;
  const user = UserContext.fromPartial({ userId: 'u1' });
  // Pre-scored: a (best) … f; the fake ranker's utility prefers the reverse alphabet.
  const ordered: BlendCandidate[] = ['a', 'b', 'c', 'd', 'e', 'f'].map((itemId, i) => ({
    itemId,
    preScore: 10 - i,
    proposals: [{ generator: 'g', rank: i, score: 1, reason: '' }],
  }));
  const endpoint = (deadlineMs = 2_000): RankerEndpoint => ({ client, topN: 4, deadlineMs });
  const call = { requestId: 'r1' };

  beforeAll(async () => {
    server = await startServer({
      name: 'fake-ranker',
      port: 0,
      services: [
        bindService(RankerService, {
          async rank(request: RankRequest): Promise<RankResponse> {
            if (mode === 'slow') await new Promise((r) => setTimeout(r, 500));
            if (mode === 'error') throw new RpcError(status.INTERNAL, 'model exploded');
            const scores = request.candidates.map((c) => ({
              itemId: c.itemId,
              pClick: 0.5,
              pSave: 0.1,
              pHide: 0,
              utility: c.itemId.charCodeAt(0),
            }));
            return {
              scores: mode === 'mismatch' ? scores.slice(1) : scores,
              modelVersion: 'v0042',
              weights: { click: 1, save: 2, hide: -4 },
            };
          },
          async getStatus() {
            return {
              model: 'ranker',
              modelVersion: 'v0042',
              loadedAtMs: 0,
              refused: [],
              weights: undefined,
              registry: '',
              experimentVersions: [],
            };
          },
        }),
      ],
    });
    client = connect(RankerClient, server.address);
  });
  afterAll(async () => {
    client?.close();
    await server?.stop(100);
  });

  it('orders the top N by utility and keeps the rest in pre-score order', async () => {
    mode = 'ok';
    const r = await rank(ordered, user, endpoint(), call);
    expect(r.ranking).toEqual({ ranked: true, modelVersion: 'v0042', fallbackReason: '' });
    expect(r.ordered.map((c) => c.itemId)).toEqual(['d', 'c', 'b', 'a', 'e', 'f']);
    expect(r.utilities.get('d')).toBe('d'.charCodeAt(0));
    expect(r.utilities.has('e')).toBe(false);
  });

  it('falls back when the ranker is late', async () => {
    mode = 'slow';
    const r = await rank(ordered, user, endpoint(50), call);
    expect(r.ranking).toEqual({
      ranked: false,
      modelVersion: '',
      fallbackReason: 'ranker late: no answer within 50 ms',
    });
    expect(r.ordered.map((c) => c.itemId)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('falls back when the ranker fails or answers for other items', async () => {
    mode = 'error';
    expect((await rank(ordered, user, endpoint(), call)).ranking.fallbackReason).toBe(
      'ranker failed (INTERNAL): model exploded',
    );
    mode = 'mismatch';
    const r = await rank(ordered, user, endpoint(), call);
    expect(r.ranking.fallbackReason).toBe('ranker answer did not match the request (3 scores for 4 candidates)');
    expect(r.ordered).toBe(ordered);
  });

  it('says when no ranker is configured, or there is nothing to rank', async () => {
    expect((await rank(ordered, user, undefined, call)).ranking.fallbackReason).toBe('no ranker configured');
    expect((await rank([], user, endpoint(), call)).ranking.fallbackReason).toBe('no candidates to rank');
  });
});
