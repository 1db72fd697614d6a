// Item-to-item retrieval in the two-tower item space: the user's recently engaged items are the
// seeds; their vectors come from the ANN host's own index version (GetItemVectors), and each seed's
// nearest items are searched in that same version on that same host (all seeds in one batched
// search), then merged.
import { z } from 'zod';
import { learnedRetrievalSettings, MAX_ANN_K, retrievalFor } from '../../../libs/ann/learned-retrieval.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems, engagementSeeds } from '../../../libs/generator-sdk/seeds.js';
import { hasEngagementSeed } from '../../../libs/generator-sdk/enable.js';

export default defineGenerator({
  name: 'embedding_i2i',
  kind: 'learned',
  callsMeshServices: true,
  description:
    'Nearest items (two-tower item embeddings) to each recently engaged item, weighted by the engagement and merged.',
  requestCost:
    'O(1) RPCs: GetVersions + GetItemVectors + one batched ANN search of one query per seed (≤ maxSeeds, default 8)',
  snapshots: [],
  settings: learnedRetrievalSettings.extend({
    /** Recently engaged items searched from, at most. */
    maxSeeds: z.number().int().min(1).default(8),
  }),
  prepare: (_rows, settings, mesh) => ({ retrieval: retrievalFor(settings, mesh) }),
  enable: hasEngagementSeed,
  async generate({ user, quota, requestId }, { data, settings, signal }) {
    const seeds = engagementSeeds(user, settings.maxSeeds);
    if (seeds.length === 0) return [];
    const exclude = engagedItems(user);
    const { retrieval } = data;
    return retrieval.withSyncedHost(
      async (synced, call) => {
        const known = await retrieval.seedVectors(synced, seeds, call);
        const perSeed = Math.min(MAX_ANN_K, Math.max(10, Math.ceil((quota * 2) / Math.max(1, known.length))));
        // Every seed's search in one SearchBatch: one call and one native search per request.
        const { results, host } = await retrieval.searchMany(
          synced,
          known.map(({ vector }) => ({ vector, k: perSeed })),
          { exclude, ...call },
        );
        const board = new ScoreBoard();
        for (const [i, { seed }] of known.entries()) {
          for (const n of results[i])
            board.add(
              n.itemId,
              seed.weight * Math.max(0, n.score),
              `like ${seed.itemId} (${synced.version}, ann.${host})`,
            );
        }
        return { modelVersion: synced.version, candidates: board.top(quota, exclude) };
      },
      { signal, requestId },
    );
  },
});
