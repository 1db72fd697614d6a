// `feedloom rollout`, `feedloom rollback`, `feedloom status` (services/ops/rollout).
import { formatSchedule, readScheduleStatus } from '../scheduler/state.js';
import { defineCommand, intFlag, JSON_OUTPUT, MODEL } from '../../../libs/bootstrap/command.js';
import { loadMeshConfig } from '../../../libs/config/mesh.js';
import { rollbackModel } from '../rollout/rollback.js';
import { rolloutVersion } from '../rollout/rollout.js';
import { collectStatus, formatStatus } from '../rollout/status.js';

export const rolloutCommand = defineCommand({
  name: 'rollout',
  usage: '--model two_tower|ranker [--version V]',
  summary: 'staged rollout: viewer, index, canary + guards, hosts',
  about: `viewer → index → canary ANN host → guards → other hosts (two_tower), or by state (ranker);
a failed guard rolls back by itself. Exit 1 when rolled back.`,
  options: {
    model: MODEL,
    version: { type: 'string', arg: 'vNNNN', help: 'the version to roll out (default: the newest published one)' },
    'index-delay-ms': {
      type: 'string',
      arg: 'N',
      help: 'an artificially slow indexer (tests, demos): wait N ms before building the index',
    },
    json: JSON_OUTPUT,
  },
  async run({ values }) {
    const mesh = loadMeshConfig(values.config);
    const delay = intFlag('index-delay-ms', values['index-delay-ms'], 0);
    const result = await rolloutVersion({
      mesh,
      model: values.model,
      version: values.version,
      indexDelayMs: delay,
      log: values.json ? undefined : (line) => console.log(line),
    });
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else
      console.log(
        result.outcome === 'serving'
          ? `${result.model} ${result.version} serves everywhere`
          : `${result.model} ${result.version} rolled back: ${result.reason}`,
      );
    return result.outcome === 'serving' ? 0 : 1;
  },
});

export const rollbackCommand = defineCommand({
  name: 'rollback',
  usage: '[--model M] [--to VERSION]',
  summary: 'every host (or the ranker) back on an earlier version',
  options: {
    model: MODEL,
    to: {
      type: 'string',
      arg: 'VERSION',
      help: 'the version to go back to (default: the version before the one served)',
    },
    reason: { type: 'string', arg: 'TEXT', help: 'recorded in the registry with the state change' },
    json: JSON_OUTPUT,
  },
  async run({ values }) {
    const mesh = loadMeshConfig(values.config);
    const result = await rollbackModel({
      mesh,
      model: values.model,
      to: values.to,
      reason: values.reason,
      log: values.json ? undefined : (line) => console.log(line),
    });
    if (values.json) console.log(JSON.stringify(result));
    return 0;
  },
});

export const statusCommand = defineCommand({
  name: 'status',
  usage: '[--json]',
  summary: 'versions served per service and host, state history, last cycle, the scheduled jobs',
  options: { json: JSON_OUTPUT },
  async run({ values }) {
    const mesh = loadMeshConfig(values.config);
    const [status, schedule] = await Promise.all([collectStatus(mesh), readScheduleStatus(mesh.world.dir)]);
    console.log(
      values.json
        ? JSON.stringify({ ...status, schedule }, null, 2)
        : `${formatStatus(status)}

${formatSchedule(schedule)}`,
    );
    return 0;
  },
});
