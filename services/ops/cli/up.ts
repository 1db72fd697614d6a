import { relative, resolve } from 'node:path';
import { loadMeshConfig, addressOf, metricsEndpointOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { defineCommand, WORLD } from '../../../libs/bootstrap/command.js';
import { startTelemetry } from '../../../libs/bootstrap/telemetry.js';
import { checkGeneratorSettings } from '../../generators/registry.js';
import { prepareWorld } from '../../offline/trainer/prepare-world.js';
import type { RunningMesh } from '../../servers.js';
import { startAllInOne, startProcesses } from '../mesh/run.js';
import { fetchFeed, formatFeed } from './feed.js';
import { runEvalCommand } from './eval.js';
import { waitForFullBlends } from './ready.js';
import { schedulePlan } from '../scheduler/jobs.js';
import { eventsView, openDuck, queryRows } from '../../../libs/data/duck.js';
import { readWorldManifest } from '../../../libs/data/world.js';
import { adminTokenFileOf, operationsPortOf } from '../../../libs/config/security.js';

/** Builds the configured world on first run (quick afterwards), then starts the mesh. */
export interface UpOptions {
  allInOne: boolean;
  /** Replace a world in the configured directory that is not the configured simulation. */
  force?: boolean;
  /** How long the probe Blends may take to find every source OK before `up` gives up waiting (default 120 s). */
  readyTimeoutMs?: number;
}

/** The probe viewers: the two most active users (personal sources) and one without history (cold start). */
async function probeUsers(worldDir: string): Promise<string[]> {
  return [...(await activeUsers(worldDir, 2)), 'new_user_without_history'];
}

export async function startMesh(
  configPath: string,
  options: UpOptions,
): Promise<{ mesh: MeshConfig; running: RunningMesh; users: string[] }> {
  const mesh = loadMeshConfig(configPath);
  // Before the world is prepared (minutes on a first run): a bad generator setting fails at once.
  await checkGeneratorSettings(mesh, configPath);
  const started = Date.now();
  await prepareWorld(mesh, { force: options.force });
  const world = await readWorldManifest(mesh.world.dir);
  const what =
    world.source === 'import' ? `imported world '${world.name}'` : `world ${world.preset} (seed ${world.seed})`;
  console.log(`${what} ready at ${mesh.world.dir} [${((Date.now() - started) / 1000).toFixed(1)} s]`);
  // Chosen before the servers start: a query of the event log between "ready" and a first feed would compete with it.
  const users = await probeUsers(mesh.world.dir);
  // All-in-one: one process, so one metrics endpoint (beside the blender's port); otherwise one per service.
  const telemetry = options.allInOne
    ? startTelemetry({ serviceName: 'feedloom.mesh', prometheus: metricsEndpointOf(mesh, mesh.services.blender.port) })
    : undefined;
  const running = options.allInOne ? await startAllInOne(mesh, { configPath }) : await startProcesses(mesh, configPath);
  if (telemetry?.metricsUrl) console.log(`metrics at ${telemetry.metricsUrl}`);
  console.log(
    `mesh up (${options.allInOne ? 'all-in-one' : 'one process per service'}), ${running.addresses.size} services:`,
  );
  for (const [name, address] of running.addresses) console.log(`  ${name.padEnd(32)} ${address}`);
  console.log(`blender listens on ${addressOf(mesh, mesh.services.blender)}`);
  // Operations (debug Blends, AnnAdmin, GetUserContext, the status page) need the admin token.
  const tokenFile = relative(process.cwd(), adminTokenFileOf(mesh.security, mesh.world.dir));
  const blenderAdmin = operationsPortOf(mesh.security, 'blender', mesh.services.blender.port);
  console.log(
    `operations need the admin token in ${tokenFile} (debug Blends on the blender's admin port ${blenderAdmin})`,
  );
  console.log(schedulePlan(mesh));
  // Ready means warm: every enabled source answers a probe Blend in time, or we say which do not.
  const probe = await waitForFullBlends(addressOf(mesh, mesh.services.blender), users, {
    channel: { tls: mesh.security.tls },
    timeoutMs: options.readyTimeoutMs,
    onWait: (failing, ms) =>
      console.log(`warming up (${(ms / 1000).toFixed(0)} s): not yet in time: ${failing.join('; ')}`),
  });
  const after = `${probe.rounds} probe round${probe.rounds > 1 ? 's' : ''}, ${(probe.elapsedMs / 1000).toFixed(1)} s`;
  if (probe.ready) console.log(`ready: every enabled source answered the probe Blends in time (${after})`);
  else console.log(`NOT ready after ${after}; still failing:\n  ${probe.failing.join('\n  ')}`);
  return { mesh, running, users };
}

export async function runUp(configPath: string, options: UpOptions): Promise<void> {
  const { running } = await startMesh(configPath, options);
  console.log('try: npx feedloom feed u1 --debug   (Ctrl-C stops the mesh)');
  await new Promise<void>((resolve) => {
    const stop = () => void running.stop().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** A few users with recent activity, so the demo feeds are personal. */
async function activeUsers(worldDir: string, n: number): Promise<string[]> {
  const duck = await openDuck();
  try {
    await eventsView(duck.conn, worldDir);
    const rows = await queryRows<{ user_id: string }>(
      duck.conn,
      `SELECT user_id, count(*) AS n FROM events WHERE action IN ('click','save') GROUP BY user_id ORDER BY n DESC, user_id LIMIT ${n}`,
    );
    return rows.map((r) => r.user_id);
  } finally {
    duck.close();
  }
}

export async function runDemo(configPath: string, options: UpOptions): Promise<void> {
  const { mesh, running, users } = await startMesh(configPath, options);
  try {
    // startMesh has warmed the mesh with probe Blends for these users: these are the first feeds shown.
    for (const user of users) {
      console.log('');
      console.log(
        formatFeed(
          user,
          await fetchFeed(addressOf(mesh, mesh.services.blender), user, {
            limit: 10,
            channel: { tls: mesh.security.tls },
          }),
        ),
      );
    }
  } finally {
    await running.stop();
  }
  console.log('');
  // ks left to the eval: its defaults fit the world (pages of 20 and 100 on an imported one).
  await runEvalCommand({
    configPath,
    json: false,
    maxUsers: 300,
    ...(mesh.world.existing ? { worldDir: mesh.world.dir } : {}),
  });
}

/** The options of up and demo. */
const UP_OPTIONS = {
  'all-in-one': {
    type: 'boolean',
    help: 'every server in this process, each on its own port, still talking gRPC (the default)',
  },
  processes: {
    type: 'boolean',
    help: 'one process per service, as on Kubernetes (on one 2-core machine the all-in-one default serves better)',
  },
  world: {
    ...WORLD,
    help: 'serve the existing (e.g. imported) world in DIR as it is (this command and every process it starts)',
  },
  force: { type: 'boolean', help: 'replace a world that is not the configured one (moved aside)' },
  unsynced: {
    type: 'boolean',
    help: "(for demos only) learned generators embed users with the viewer's newest version, not the answering host's",
  },
} as const;

type UpValues = {
  config: string;
  'all-in-one': boolean;
  processes: boolean;
  world?: string;
  force: boolean;
  unsynced: boolean;
};

export const upCommand = defineCommand({
  name: 'up',
  usage: '[--processes] [--config FILE] [--world DIR] [--force]',
  summary: `prepare the world and serve the whole mesh: the configured simulated
world, or with --world the existing (e.g. imported) world in DIR as it is;
--force replaces a world that is not the configured one (moved aside)`,
  options: UP_OPTIONS,
  run: ({ values }) => upOrDemo(runUp, values),
});

export const demoCommand = defineCommand({
  name: 'demo',
  usage: '[same options as up] [--unsynced]',
  summary: `up, print a few feeds and the eval table, stop
--unsynced (up/demo, for demos only): learned generators embed users with the
viewer's newest version, not the answering host's: the failure sync prevents`,
  options: UP_OPTIONS,
  run: ({ values }) => upOrDemo(runDemo, values),
});

async function upOrDemo(run: typeof runUp, values: UpValues): Promise<number> {
  if (values.unsynced) {
    // Demo and test switch: learned generators stop syncing versions (child processes inherit it).
    process.env.FEEDLOOM_LEARNED_UNSYNCED = '1';
    console.log("--unsynced: learned generators embed with the viewer's newest version (for demonstration only)");
  }
  // --world DIR: this command and every process it starts serve the existing world in DIR.
  if (values.world) process.env.FEEDLOOM_WORLD = resolve(values.world);
  if (values.processes && values['all-in-one']) throw new Error('--processes and --all-in-one: choose one');
  // One machine: all-in-one. Per process, 29 Node processes share the cores and the first Blends
  // miss their deadlines (docs/BENCHMARKS.md).
  await run(values.config, { allInOne: !values.processes, force: values.force });
  return 0;
}
