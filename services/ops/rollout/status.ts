// `feedloom status`: for every service and host of the mesh config, what it serves (ANN GetVersions,
// viewer ListVersions, ranker GetStatus, generators' Describe) and its health; every model
// version's state history from the registry; the newest retraining cycle report (<registry>/cycles/).
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CandidateGeneratorClient } from '../../../generated/feedloom/v1/generator.js';
import { callUnary, connect } from '../../../libs/bootstrap/client.js';
import { meshChannelOf } from '../../../libs/bootstrap/mesh-security.js';
import { messageOf } from '../../../libs/bootstrap/errors.js';
import { addressOf, registryDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { ModelRegistry, type StateChange } from '../../../libs/registry/index.js';
import { MeshClients } from './mesh-clients.js';
import { rankerStatus } from './ranker-rollout.js';
import { versionStates } from './registry-states.js';

export interface ServiceStatus {
  name: string;
  address: string;
  /** SERVING, NOT_SERVING, or unreachable: … */
  health: string;
  /** What it serves, e.g. "two_tower v0003 (holds v0002, v0003)"; '' when it serves no model. */
  serves: string;
}

export interface VersionStatus {
  version: string;
  state: string;
  history: StateChange[];
  error?: string;
}

export interface MeshStatus {
  services: ServiceStatus[];
  registry: { dir: string; models: { model: string; versions: VersionStatus[] }[] };
  lastCycle?: { file: string; report: unknown };
}

/** Versions shown per model, newest first. */
const MAX_VERSIONS = 6;

export async function collectStatus(mesh: MeshConfig, registryDir = registryDirOf(mesh)): Promise<MeshStatus> {
  const clients = new MeshClients(mesh);
  try {
    const one = async (
      name: string,
      address: string,
      serves: () => Promise<string>,
      service = '',
    ): Promise<ServiceStatus> => {
      const health = (await clients.health(address, service)).detail;
      const what = health.startsWith('unreachable') ? '' : await serves().catch((err) => `? (${messageOf(err)})`);
      return { name, address, health, serves: what };
    };
    const none = async () => '';
    const jobs: Promise<ServiceStatus>[] = [
      one('events', addressOf(mesh, mesh.services.events), none),
      one('blender', addressOf(mesh, mesh.services.blender), none),
    ];
    if (mesh.services.ranker) {
      jobs.push(
        one('ranker', clients.rankerAddress, async () => {
          const s = await rankerStatus(clients);
          const refused = s.refused.length
            ? `; refused ${s.refused.map((r) => `${r.version} (${r.reason.slice(0, 80)})`).join(', ')}`
            : '';
          return `${s.model} ${s.modelVersion || '-'}${refused}`;
        }),
      );
    }
    if (mesh.services.viewer) {
      jobs.push(
        one('viewer', clients.viewerAddress, async () => {
          const res = await callUnary(clients.viewer(), 'listVersions', { model: '' }, { timeoutMs: 5_000 });
          const byModel = new Map<string, string[]>();
          for (const v of res.versions) byModel.set(v.model, [...(byModel.get(v.model) ?? []), v.version]);
          return [...byModel].map(([m, vs]) => `${m} holds ${vs.join(', ')}`).join('; ') || 'holds nothing';
        }),
      );
    }
    for (const host of mesh.ann ? clients.annHosts().sort((a, b) => (a.name < b.name ? -1 : 1)) : []) {
      jobs.push(
        one(`ann.${host.name}${host.shard ? ` (shard ${host.shard})` : ''}`, host.address, async () => {
          const res = await callUnary(clients.annSearch(host), 'getVersions', {}, { timeoutMs: 5_000 });
          return (
            res.models
              .map((m) => `${m.model} ${m.servingVersion || '-'} (holds ${m.loadedVersions.join(', ')})`)
              .join('; ') || 'serves nothing'
          );
        }),
      );
    }
    for (const g of mesh.generators.filter((x) => x.enabled)) {
      const address = addressOf(mesh, g);
      jobs.push(
        one(`generator.${g.name}`, address, async () => {
          const client = connect(CandidateGeneratorClient, address, meshChannelOf(mesh));
          try {
            const res = await callUnary(client, 'describe', {}, { timeoutMs: 5_000 });
            return res.snapshots.map((s) => `${s.name} ${s.version}`).join(', ');
          } finally {
            client.close();
          }
        }),
      );
    }
    return {
      services: await Promise.all(jobs),
      registry: await registryStatus(registryDir),
      lastCycle: await lastCycle(registryDir),
    };
  } finally {
    clients.close();
  }
}

async function registryStatus(dir: string): Promise<MeshStatus['registry']> {
  const registry = new ModelRegistry(dir);
  const models: MeshStatus['registry']['models'] = [];
  for (const model of await registry.models().catch(() => [] as string[])) {
    const versions = (await versionStates(registry, model)).slice(-MAX_VERSIONS).reverse();
    models.push({
      model,
      versions: await Promise.all(
        versions.map(async ({ version, state }) => {
          try {
            return { version, state, history: (await registry.get(model, version)).history };
          } catch (err) {
            return { version, state, history: [], error: (err as Error).message };
          }
        }),
      ),
    });
  }
  return { dir, models };
}

/** The newest JSON report under <registry>/cycles/ (written by `feedloom retrain`), if any. */
async function lastCycle(registryDir: string): Promise<MeshStatus['lastCycle']> {
  const dir = path.join(registryDir, 'cycles');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
  if (files.length === 0) return undefined;
  const dated = await Promise.all(files.map(async (f) => ({ f, ms: (await stat(path.join(dir, f))).mtimeMs })));
  const newest = dated.sort((a, b) => b.ms - a.ms || (a.f < b.f ? 1 : -1))[0].f;
  const file = path.join(dir, newest);
  try {
    return { file, report: JSON.parse(await readFile(file, 'utf8')) };
  } catch (err) {
    return { file, report: `cannot read it: ${(err as Error).message}` };
  }
}

export function formatStatus(status: MeshStatus): string {
  const lines: string[] = ['services'];
  const width = Math.max(...status.services.map((s) => s.name.length));
  for (const s of status.services)
    lines.push(`  ${s.name.padEnd(width)}  ${s.address.padEnd(21)}  ${s.health.padEnd(11)}  ${s.serves}`);
  lines.push('', `model registry ${status.registry.dir}`);
  if (status.registry.models.length === 0) lines.push('  (no model versions)');
  for (const m of status.registry.models) {
    lines.push(`  ${m.model}`);
    for (const v of m.versions) {
      lines.push(`    ${v.version}  ${v.state}${v.error ? `  (unreadable: ${v.error})` : ''}`);
      for (const h of v.history)
        lines.push(
          `      ${new Date(h.atMs).toISOString().replace('T', ' ').slice(0, 19)}  ${h.state.padEnd(11)}  ${h.note}`,
        );
    }
  }
  lines.push('');
  if (!status.lastCycle) lines.push('last retraining cycle: none yet (no report under <registry>/cycles/)');
  else {
    lines.push(`last retraining cycle: ${status.lastCycle.file}`);
    for (const [key, value] of flatten(status.lastCycle.report).slice(0, 60)) lines.push(`  ${key} = ${value}`);
  }
  return lines.join('\n');
}

/** Leaf values of a JSON report as dotted keys (arrays of scalars joined), for a compact listing. */
function flatten(value: unknown, prefix = ''): [string, string][] {
  if (value === null || typeof value !== 'object')
    return [
      [prefix || 'report', typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(4) : String(value)],
    ];
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object'))
    return [[prefix, value.join(', ')]];
  return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
}
