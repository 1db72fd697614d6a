// `feedloom rollout`, `feedloom rollback`, `feedloom status`.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH, loadMeshConfig } from '../../../libs/config/mesh.js';
import { rollbackModel } from '../rollout/rollback.js';
import { rolloutVersion } from '../rollout/rollout.js';
import { collectStatus, formatStatus } from '../rollout/status.js';

export const ROLLOUT_USAGE = `usage:
  feedloom rollout --model two_tower|ranker [--version vNNNN] [--index-delay-ms N] [--json]
      viewer → index → canary ANN host → guards → other hosts (two_tower), or by state (ranker);
      a failed guard rolls back by itself. Default version: the newest published one. Exit 1 when rolled back.
  feedloom rollback [--model two_tower] [--to VERSION] [--reason TEXT]
      every ANN host (or the ranker) back on VERSION (default: the version before the one served)
  feedloom status [--json]
      what every service and host serves, each version's state history, the last retraining cycle
options: --config FILE (default config/mesh.json or $FEEDLOOM_CONFIG)`;

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const common = { config: { type: 'string' as const, default: process.env.FEEDLOOM_CONFIG ?? join(ROOT, DEFAULT_CONFIG_PATH) }, json: { type: 'boolean' as const, default: false }, help: { type: 'boolean' as const, default: false } };

export async function runRolloutCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...common, model: { type: 'string', default: 'two_tower' }, version: { type: 'string' }, 'index-delay-ms': { type: 'string' } } });
  if (values.help) return usage();
  const mesh = loadMeshConfig(values.config);
  const delay = values['index-delay-ms'] === undefined ? undefined : Number(values['index-delay-ms']);
  if (delay !== undefined && !(Number.isInteger(delay) && delay >= 0)) throw new Error(`--index-delay-ms must be a whole number of ms (got ${values['index-delay-ms']})`);
  const result = await rolloutVersion({ mesh, model: values.model!, version: values.version, indexDelayMs: delay, log: values.json ? undefined : (line) => console.log(line) });
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else console.log(result.outcome === 'serving' ? `${result.model} ${result.version} serves everywhere` : `${result.model} ${result.version} rolled back: ${result.reason}`);
  return result.outcome === 'serving' ? 0 : 1;
}

export async function runRollbackCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...common, model: { type: 'string', default: 'two_tower' }, to: { type: 'string' }, reason: { type: 'string' } } });
  if (values.help) return usage();
  const mesh = loadMeshConfig(values.config);
  const result = await rollbackModel({ mesh, model: values.model!, to: values.to, reason: values.reason, log: values.json ? undefined : (line) => console.log(line) });
  if (values.json) console.log(JSON.stringify(result));
  return 0;
}

export async function runStatusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: common });
  if (values.help) return usage();
  const status = await collectStatus(loadMeshConfig(values.config));
  console.log(values.json ? JSON.stringify(status, null, 2) : formatStatus(status));
  return 0;
}

function usage(): number {
  console.log(ROLLOUT_USAGE);
  return 0;
}
