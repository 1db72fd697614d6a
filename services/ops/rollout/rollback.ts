// Manual rollback (`feedloom rollback [--to VERSION]`): every ANN host back on an earlier version,
// which they usually still hold loaded (a rollout keeps the previous one), or the ranker back by
// state. The target is marked serving first, so the viewer holds its user tower before any host
// switches (a host must never serve a version the viewer cannot embed with).
import path from 'node:path';
import { registryDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { ModelRegistry, versionNumber, type ModelState } from '../../../libs/registry/index.js';
import { withLockFile } from '../../../libs/registry/fs-atomic.js';
import { loadOnHost, mostServed, servedByHosts, serveOnHost } from './ann-steps.js';
import { MeshClients, waitFor } from './mesh-clients.js';
import { rankerStatus } from './ranker-rollout.js';
import { moveTo, newestIn, stateOf, versionStates } from './registry-states.js';
import { isIndexed, isRankerModel } from './rollout.js';

export interface RollbackOptions {
  mesh: MeshConfig;
  /** Default: the mesh's registry. */
  registryDir?: string;
  model: string;
  /** Version to go back to (default: the newest retired or serving version older than the one served now). */
  to?: string;
  /** Recorded in the registry with the rolled-back version. */
  reason?: string;
  log?: (line: string) => void;
}

export interface RollbackResult {
  model: string;
  /** What served before; '' when nothing did. */
  from: string;
  to: string;
  ms: number;
}

const TARGET_STATES: readonly ModelState[] = ['serving', 'retired', 'rolled_back', 'published'];

export async function rollbackModel(options: RollbackOptions): Promise<RollbackResult> {
  const registryDir = options.registryDir ?? registryDirOf(options.mesh);
  const registry = new ModelRegistry(registryDir);
  return withLockFile(path.join(registryDir, options.model, '.rollout.lock'), () => rollback(options, registry), {
    timeoutMs: 1_000,
    staleMs: 3_600_000,
  }).catch((err: Error) => {
    if (/waiting for the lock/.test(err.message))
      throw new Error(`another rollout or rollback of ${options.model} is running (${err.message})`);
    throw err;
  });
}

async function rollback(options: RollbackOptions, registry: ModelRegistry): Promise<RollbackResult> {
  const { mesh, model } = options;
  const started = Date.now();
  const log = options.log ?? (() => {});
  const reason = options.reason ?? 'manual rollback';
  const clients = new MeshClients(mesh);
  const ranker = isRankerModel(mesh, model);
  try {
    const hosts = ranker ? [] : clients.annHosts();
    const served = ranker ? undefined : await servedByHosts(clients, hosts, model);
    const from = ranker ? (await rankerStatus(clients)).modelVersion : (mostServed(served!) ?? '');
    const to =
      options.to ??
      (await newestIn(registry, model, ['retired', 'serving'], { except: from, olderThan: from || undefined })) ??
      fail(
        `no earlier ${model} version to roll back to from ${from || 'nothing'} (none is retired or serving); name one with --to`,
      );
    if (to === from && (!served || [...served.values()].every((v) => v === to)))
      throw new Error(`${model} already serves ${to}`);
    const state = await stateOf(registry, model, to).catch(() =>
      fail(`no version ${model}/${to} in the registry at ${registry.root}`),
    );
    if (!TARGET_STATES.includes(state))
      fail(`${model}/${to} is ${state}: it never passed validation, so it cannot be rolled back to`);
    if (!ranker && !(await isIndexed(registry.dir(model, to), Math.max(...hosts.map((h) => h.shard)) + 1)))
      fail(`${model}/${to} has no index; run \`feedloom index --version ${to}\` first`);
    log(`rolling ${model} back from ${from || 'nothing'} to ${to}`);

    await moveTo(registry, model, to, 'serving', `rollback from ${from || 'nothing'}: ${reason}`);
    const demote = async () => {
      for (const v of await versionStates(registry, model)) {
        const newer = versionNumber(v.version)! > versionNumber(to)!;
        // Everything else that serves goes; for the ranker also newer published versions, which it would pick.
        if (v.version !== to && (v.state === 'serving' || (ranker && newer && v.state === 'published'))) {
          await moveTo(registry, model, v.version, 'rolled_back', `${reason} (to ${to})`);
        }
      }
    };

    if (ranker) {
      await demote();
      await waitFor(`the ranker to serve ${model}/${to}`, mesh.rollout.loadTimeoutMs, async () => {
        const s = await rankerStatus(clients);
        if (s.modelVersion === to) return true;
        const refused = s.refused.find((r) => r.version === to);
        if (refused) throw new Error(`the ranker refuses ${to}: ${refused.reason}`);
        return undefined;
      });
    } else {
      await waitFor(
        `the viewer to load ${model}/${to}`,
        mesh.rollout.loadTimeoutMs,
        async () => ((await clients.viewerVersions(model)).includes(to) ? true : undefined),
        100,
      );
      // All hosts at once: a rollback is an emergency, and each host switches in one step.
      await Promise.all(
        hosts.map(async (host) => {
          await loadOnHost(clients, host, model, to, [from]);
          await serveOnHost(clients, host, model, to);
          log(`${host.name} serves ${to}`);
        }),
      );
      await demote();
    }
    const ms = Date.now() - started;
    log(`${model} rolled back from ${from || 'nothing'} to ${to} in ${ms} ms`);
    return { model, from, to, ms };
  } finally {
    clients.close();
  }
}

function fail(message: string): never {
  throw new Error(message);
}
