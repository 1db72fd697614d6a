import { defineCommand, JSON_OUTPUT } from '../../../libs/bootstrap/command.js';
import { loadMeshConfig } from '../../../libs/config/mesh.js';
import { formatDay, formatDayHeader } from '../simulate/daily-stats.js';
import { runLiveSimulation } from '../simulate/live.js';

/** A flag's number, checked: positive, and an integer when it must be. */
function numberFlag(name: string, text: string | undefined, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(n > 0) || (integer && !Number.isInteger(n)))
    throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'} (got "${text}")`);
  return n;
}

export const simulateCommand = defineCommand({
  name: 'simulate',
  usage: '--live [--users N] [--rate R] [--days D] [--seed S]',
  summary: "play the simulator's users against a running mesh (`up`), printing a table per simulated day",
  about: [
    "Each session asks the blender for a feed, the user reacts by the simulator's engagement model, and",
    'the impressions and actions go back through Events.Log (one idempotency key per session). Time is',
    "the world's clock: world.clockSpeed in the mesh config sets simulated seconds per wall second.",
    '(Offline worlds are simulated by `build-world`.)',
  ].join('\n'),
  options: {
    live: { type: 'boolean', help: 'against the running mesh of the config (the only mode)' },
    users: { type: 'string', arg: 'N', help: "how many of the world's users play (default: all)" },
    rate: {
      type: 'string',
      arg: 'R',
      help: "mean sessions per user per simulated day (default: each user's own activity)",
    },
    days: { type: 'string', arg: 'D', default: '1', help: 'simulated days to play' },
    seed: { type: 'string', arg: 'S', default: '1', help: "the simulated users' seed" },
    concurrency: { type: 'string', arg: 'N', default: '4', help: 'sessions in flight at once' },
    json: JSON_OUTPUT,
  },
  async run({ values }) {
    if (!values.live) throw new Error('simulate needs --live (a world is simulated offline by `feedloom build-world`)');
    const seed = Number(values.seed);
    if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer (got "${values.seed}")`);
    const mesh = loadMeshConfig(values.config);
    if (!values.json) console.log(formatDayHeader());
    const days = await runLiveSimulation({
      mesh,
      days: numberFlag('days', values.days, true)!,
      users: numberFlag('users', values.users, true),
      rate: numberFlag('rate', values.rate, false),
      concurrency: numberFlag('concurrency', values.concurrency, true),
      seed,
      log: (line) => console.error(line),
      onDay: (day) => !values.json && console.log(formatDay(day)),
    });
    if (values.json) console.log(JSON.stringify(days, null, 2));
    return 0;
  },
});
