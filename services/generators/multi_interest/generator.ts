// Multi-interest retrieval: the user's recent engaged items' vectors (from the ANN host's own index
// version) are clustered with a small k-means; each cluster's centroid is one query of one batched
// ANN search on that same host and version, and the answers are merged so that every interest gets its share.
import { z } from 'zod';
import { learnedRetrievalSettings, MAX_ANN_K, retrievalFor } from '../../../libs/ann/learned-retrieval.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems, engagementSeeds } from '../../../libs/generator-sdk/seeds.js';
import { seedOf, sphericalKMeans } from './kmeans.js';
import { hasEngagementSeed } from '../../../libs/generator-sdk/enable.js';

export default defineGenerator({
  name: 'multi_interest',
  kind: 'learned',
  callsMeshServices: true,
  description:
    "Clusters the user's recent item embeddings into a few interests and searches the ANN index for each interest, merged by interest weight.",
  requestCost:
    'O(1) RPCs: GetVersions + GetItemVectors + one batched ANN search of one query per cluster (≤ maxClusters, default 3); k-means over ≤ 30 vectors',
  snapshots: [],
  settings: learnedRetrievalSettings.extend({
    /** Recently engaged items clustered, at most. */
    maxItems: z.number().int().min(1).default(30),
    /** Interests (clusters, one ANN search each), at most. */
    maxClusters: z.number().int().min(1).default(3),
  }),
  prepare: (_rows, settings, mesh) => ({ retrieval: retrievalFor(settings, mesh) }),
  enable: hasEngagementSeed,
  async generate({ user, quota, requestId }, { data, settings, signal }) {
    const seeds = engagementSeeds(user, settings.maxItems);
    if (seeds.length === 0) return [];
    const exclude = engagedItems(user);
    const { retrieval } = data;
    return retrieval.withSyncedHost(
      async (synced, call) => {
        const known = await retrieval.seedVectors(synced, seeds, call);
        if (known.length === 0) return { modelVersion: synced.version, candidates: [] };
        // About one interest per three items, at most maxClusters.
        const k = Math.min(settings.maxClusters, Math.ceil(known.length / 3));
        const clusters = sphericalKMeans(
          known.map((k) => k.vector),
          known.map((k) => k.seed.weight),
          k,
          { seed: seedOf(user.userId) },
        );
        const total = clusters.weights.reduce((a, b) => a + b, 0);
        const shares = clusters.weights.map((w) => w / total);
        // Every interest's search in one SearchBatch: one call and one native search per request.
        const { results, host } = await retrieval.searchMany(
          synced,
          clusters.centroids.map((vector, c) => ({
            vector,
            k: Math.min(MAX_ANN_K, Math.max(10, Math.ceil(quota * shares[c] * 1.5))),
          })),
          { exclude, ...call },
        );
        // Weighted reciprocal rank: each interest contributes in proportion to its weight, so the
        // merged list interleaves interests instead of letting the largest one take the top.
        const board = new ScoreBoard();
        results.forEach((neighbors, c) =>
          neighbors.forEach((n, rank) =>
            board.add(
              n.itemId,
              shares[c] / (rank + 10),
              `interest ${c + 1} of ${results.length} (${synced.version}, ann.${host})`,
            ),
          ),
        );
        return { modelVersion: synced.version, candidates: board.top(quota, exclude) };
      },
      { signal, requestId },
    );
  },
});
