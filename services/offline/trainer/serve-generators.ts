// The mesh's generators and events service served all-in-one for a replay (the world, snapshots and
// models the mesh config points at, e.g. the as-of folders of prepareAsOf), and asked directly with
// a user's context, as the blender's fan-out asks them, without deadlines. The ranker's pre-score
// replay and its candidate replay on imported logs read what the generators would have proposed.
import { type UserContext } from '../../../generated/feedloom/v1/common.js';
import { CandidateGeneratorClient } from '../../../generated/feedloom/v1/generator.js';
import { EventsClient } from '../../../generated/feedloom/v1/events.js';
import { SourceState } from '../../../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../../../libs/bootstrap/client.js';
import { meshChannelOf } from '../../../libs/bootstrap/mesh-security.js';
import type { MeshConfig } from '../../../libs/config/mesh.js';
import { SEQ_LEN } from '../../../libs/ranking/index.js';
import type { SourceAnswer } from '../../../libs/blend/types.js';
import { startServers } from '../../servers.js';
import { loadGeneratorModule } from '../../generators/registry.js';

/** No deadlines: a replay is about what the generators propose, not how fast (as in `feedloom eval`). */
const CALL_TIMEOUT_MS = 30_000;

export interface ServedGenerators {
  /** The enabled generators, in config order. */
  generators: string[];
  /** The user's context as the events service serves it (its newest SEQ_LEN actions), at the world's clock. */
  context(userId: string): Promise<UserContext>;
  /** Every enabled generator's answer to the context, each for its configured quota (the blender's fan-out). */
  generate(user: UserContext, requestId: string): Promise<SourceAnswer[]>;
}

const okStatus = (generator: string, candidates: number) => ({
  generator,
  state: SourceState.SOURCE_STATE_OK,
  candidates,
  latencyMs: 0,
  error: '',
  snapshotVersion: '',
  modelVersion: '',
});

/** Serves the mesh's generators and events (all-in-one, ephemeral ports) while `run` asks them. */
export async function serveGenerators<T>(mesh: MeshConfig, run: (served: ServedGenerators) => Promise<T>): Promise<T> {
  const replayMesh: MeshConfig = structuredClone(mesh);
  // The learned generators, which call other services, get as long for each call.
  replayMesh.generators = await Promise.all(
    replayMesh.generators.map(async (g) => {
      const callsOut = 'callTimeoutMs' in (await loadGeneratorModule(g.name)).settings.shape;
      return {
        ...g,
        deadlineMs: CALL_TIMEOUT_MS,
        settings: callsOut ? { ...g.settings, callTimeoutMs: CALL_TIMEOUT_MS } : g.settings,
      };
    }),
  );
  const enabled = replayMesh.generators.filter((g) => g.enabled);
  const running = await startServers(replayMesh, { ephemeralPorts: true });
  const events = connect(EventsClient, running.addresses.get('events')!, meshChannelOf(mesh));
  const clients = enabled.map((g) => ({
    name: g.name,
    quota: g.quota,
    client: connect(CandidateGeneratorClient, running.addresses.get(`generator.${g.name}`)!, meshChannelOf(mesh)),
  }));
  try {
    return await run({
      generators: clients.map((c) => c.name),
      context: (userId) =>
        callUnary(events, 'getUserContext', { userId, maxActions: SEQ_LEN }, { timeoutMs: CALL_TIMEOUT_MS }),
      generate: (user, requestId) =>
        Promise.all(
          clients.map(async (g) => {
            const res = await callUnary(
              g.client,
              'generate',
              { user, quota: g.quota, requestId },
              { timeoutMs: CALL_TIMEOUT_MS },
            );
            return { status: okStatus(g.name, res.candidates.length), candidates: res.candidates };
          }),
        ),
    });
  } finally {
    events.close();
    for (const c of clients) c.client.close();
    await running.stop();
  }
}
