// A worker thread of the generator pool: loads the modules it is given, keeps their snapshot data
// current, and answers Generate calls posted by the main thread (see worker-pool.ts).
import { status as grpcStatus } from '@grpc/grpc-js';
import { parentPort, workerData } from 'node:worker_threads';
import { codeOf, messageOf } from '../bootstrap/errors.js';
import { SnapshotSource } from '../data/snapshot-source.js';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import { warmGate } from '../bootstrap/warm-up.js';
import { answerGenerate, warmUp } from './answer.js';
import { decodeGenerateRequest, ownBuffer } from './encoded-messages.js';
import { GenerateResponse } from '../../generated/feedloom/v1/generator.js';
import { warmUpUsers } from './warm-up-users.js';
import { parseGeneratorSettings, type GeneratorModule } from './define.js';
import type { FromWorker, ToWorker, WorkerData } from './worker-protocol.js';

const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);

interface Served {
  module: GeneratorModule<unknown>;
  settings: Record<string, unknown>;
  source: SnapshotSource<unknown>;
}
const served = new Map<string, Served>();

for (const g of (workerData as WorkerData).generators) {
  const module = (await import(/* @vite-ignore */ g.moduleUrl)).default as GeneratorModule<unknown>;
  const settings = parseGeneratorSettings(module, g.settings);
  const { prepare } = module;
  let users: UserContext[] = [];
  // Ready is reported only once warm, so the pool sends no call to a cold worker.
  const gate = warmGate(
    `generator.${module.name} (worker)`,
    (serving) => report(serving),
    () => warmUp(module, source.current!.data, settings, users),
  );
  const report = (ready: boolean) => {
    const loaded = source.current;
    post({
      type: 'status',
      name: module.name,
      status: { ready, versions: loaded?.versions ?? {}, rows: loaded?.rows ?? {}, error: source.error },
    });
  };
  const source: SnapshotSource<unknown> = new SnapshotSource(
    {
      name: module.name,
      snapshots: module.snapshots,
      prepare: (rows) => {
        users = warmUpUsers(rows);
        return prepare ? prepare(rows, settings, g.mesh) : rows;
      },
    },
    g.snapshotsDir,
    // Every change is reported (the gate says SERVING once warm): a reload sends the new versions.
    (ready) => gate.update(ready),
  );
  served.set(module.name, { module, settings, source });
}
// Listen before loading: calls can only come for generators this worker has said are ready.
port.on('message', (message: ToWorker) => void answer(message));
await Promise.all([...served.values()].map((s, i) => s.source.start((workerData as WorkerData).generators[i].pollMs)));

async function answer(call: ToWorker): Promise<void> {
  const g = served.get(call.name);
  const loaded = g?.source.current;
  if (!g || !loaded)
    return post({ type: 'failed', id: call.id, code: grpcStatus.UNAVAILABLE, message: `no data for ${call.name}` });
  const left = call.deadline - Date.now();
  if (left <= 0)
    return post({
      type: 'failed',
      id: call.id,
      code: grpcStatus.DEADLINE_EXCEEDED,
      message: `generator ${call.name}: the call's deadline passed while it waited for a worker`,
    });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), left);
  try {
    const request = decodeGenerateRequest(call.request);
    const input = { user: request.user!, quota: request.quota, requestId: call.requestId };
    const response = await answerGenerate(g.module, loaded, g.settings, input, abort.signal);
    const bytes = ownBuffer(GenerateResponse.encode(response).finish());
    const message: FromWorker = {
      type: 'answer',
      id: call.id,
      bytes,
      candidateCount: response.candidates.length,
      modelVersion: response.modelVersion,
    };
    port.postMessage(message, [bytes.buffer as ArrayBuffer]);
  } catch (err) {
    post({ type: 'failed', id: call.id, code: codeOf(err), message: messageOf(err) });
  } finally {
    clearTimeout(timer);
  }
}
