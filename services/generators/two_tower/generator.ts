// Learned two-tower retrieval: the user's embedding (user tower, served by the viewer) against the
// item index (item tower, baked into faiss on the ANN hosts), always in the same model version: the
// version comes from the ANN host that answers the search.
import { z } from 'zod';
import {
  learnedRetrievalSettings,
  MAX_ANN_K,
  reportedVersion,
  retrievalFor,
} from '../../../libs/ann/learned-retrieval.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

export default defineGenerator({
  name: 'two_tower',
  kind: 'learned',
  callsMeshServices: true,
  description:
    'Nearest items to the user tower embedding in the item-tower ANN index, user and index on the same model version.',
  requestCost: 'O(1) RPCs: GetVersions + EmbedUser (one onnx run) + one ANN search of k = quota',
  snapshots: [],
  settings: learnedRetrievalSettings.extend({
    /** The ANN search's efSearch (HNSW); 0: the host's own (ann.efSearch). */
    efSearch: z.number().int().min(0).default(0),
  }),
  // Clients to the viewer and ANN hosts, from the mesh config (see libs/ann/learned-retrieval.ts).
  prepare: (_rows, settings, mesh) => ({ retrieval: retrievalFor(settings, mesh) }),
  async generate({ user, quota, requestId }, { data, settings, signal }) {
    const { retrieval } = data;
    return retrieval.withSyncedHost(
      async (synced, call) => {
        const { embedding, version: userVersion } = await retrieval.embedUser(user, synced, call);
        // The ANN host leaves out the recent items by id; older engaged ones (the filter) are
        // dropped here, so ask for as many more as there may be.
        const engaged = engagedItems(user);
        const { neighbors, version, host } = await retrieval.search(
          synced,
          embedding,
          Math.min(quota + (user.engagedFilter?.items ?? 0), MAX_ANN_K),
          {
            exclude: engaged,
            efSearch: settings.efSearch,
            ...call,
          },
        );
        const modelVersion = reportedVersion(userVersion, version);
        return {
          modelVersion,
          candidates: neighbors
            .filter((n) => !engaged.has(n.itemId))
            .slice(0, quota)
            .map((n) => ({
              itemId: n.itemId,
              score: n.score,
              reason: `two-tower neighbour (${modelVersion}, ann.${host})`,
            })),
        };
      },
      { signal, requestId },
    );
  },
});
