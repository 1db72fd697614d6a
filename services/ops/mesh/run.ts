import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { tuneGarbageCollector } from '../../../libs/bootstrap/gc-tuning.js';
import type { RunningServer } from '../../../libs/bootstrap/server.js';
import type { MeshConfig } from '../../../libs/config/mesh.js';
import { checkGeneratorSettings } from '../../generators/registry.js';
import { startInProcess, type Component, type ComponentOptions, type RunningMesh } from '../../servers.js';
import { meshComponents } from './components.js';

/**
 * All-in-one: every server and the status page in this process, each on its own port, still talking
 * gRPC. The scheduler too, unless the config is a file (configPath, as `up` has it): then it runs as
 * its own process, since its jobs (DuckDB, EASE, dataset building, indexing) would stall the
 * servers' event loop for seconds to minutes.
 */
export async function startAllInOne(
  mesh: MeshConfig,
  options: ComponentOptions & { configPath?: string } = {},
): Promise<RunningMesh & { servers: RunningServer[] }> {
  tuneGarbageCollector();
  const all = meshComponents(mesh, options);
  const own = options.configPath ? all.filter((c) => c.name === 'scheduler') : [];
  const running = await withBrokerFirst(
    mesh,
    all.filter((c) => !own.includes(c)),
    options,
  );
  if (own.length === 0) return running;
  const scheduler = await spawnComponent(options.configPath!, 'scheduler').catch(async (err) => {
    await running.stop();
    throw err;
  });
  running.addresses.set('scheduler', scheduler.address);
  return {
    ...running,
    stop: async () => {
      await stopChildren([scheduler.child]);
      await running.stop();
    },
  };
}

/**
 * Starts the components in this process, the managed JetStream broker (if any) before them and
 * stopped after them: the events service finishes its pending publishes first.
 */
async function withBrokerFirst(
  mesh: MeshConfig,
  components: Component[],
  options: ComponentOptions,
): Promise<RunningMesh & { servers: RunningServer[] }> {
  const broker = components.filter((c) => c.name === 'nats');
  if (broker.length === 0) return startInProcess(mesh, components, options);
  const first = await startInProcess(mesh, broker, options);
  const rest = await startInProcess(
    mesh,
    components.filter((c) => !broker.includes(c)),
    options,
  ).catch(async (err) => {
    await first.stop();
    throw err;
  });
  return {
    servers: [...first.servers, ...rest.servers],
    addresses: new Map([...first.addresses, ...rest.addresses]),
    stop: async () => {
      await rest.stop();
      await first.stop();
    },
  };
}

/** SIGTERM to each child still running; resolves once all have exited. */
export function stopChildren(children: ChildProcess[]): Promise<void> {
  return Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  ).then(() => undefined);
}

const serveScript = fileURLToPath(new URL('./serve.ts', import.meta.url));

/** Starts one component as its own process; resolves with its address once it listens. */
export function spawnComponent(
  configPath: string,
  name: string,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<{ child: ChildProcess; address: string }> {
  // FEEDLOOM_NODE_ARGS: extra node flags for every component, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.FEEDLOOM_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', serveScript, '--config', configPath, name], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...options.env },
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const onExit = (code: number | null) => reject(new Error(`${name} exited with code ${code} before listening`));
    child.once('exit', onExit);
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; address?: string; metrics?: string };
        if (msg.event === 'listening' && msg.address) {
          child.off('exit', onExit);
          resolve({ child, address: msg.address });
          return;
        }
      } catch {
        // not a JSON line: ordinary output
      }
      console.log(`[${name}] ${line}`);
    });
  });
}

/** One process per component, as it would run on Kubernetes. Ports come from the config. */
export async function startProcesses(
  mesh: MeshConfig,
  configPath: string,
): Promise<RunningMesh & { children: Map<string, ChildProcess> }> {
  // Each process checks the config again as it starts (serve.ts); checked here, nothing is spawned.
  await checkGeneratorSettings(mesh, configPath);
  const children = new Map<string, ChildProcess>();
  const addresses = new Map<string, string>();
  // The broker last: the events service finishes its pending publishes first.
  const stop = async () => {
    await stopChildren([...children].filter(([name]) => name !== 'nats').map(([, child]) => child));
    await stopChildren([...children].filter(([name]) => name === 'nats').map(([, child]) => child));
  };
  try {
    const components = meshComponents(mesh);
    // Events first (the blender hydrates from it; every replica, one after another), after the broker
    // it reads, if any; then the rest in parallel.
    const leading = components.findLastIndex((c) => c.name === 'events' || c.name.startsWith('events.')) + 1;
    for (const c of components.slice(0, leading)) {
      const started = await spawnComponent(configPath, c.name);
      children.set(c.name, started.child);
      addresses.set(c.name, started.address);
    }
    // Every start settled before giving up: one that fails must not leave the others, still starting, running.
    const started = await Promise.allSettled(
      components.slice(leading).map(async (c) => {
        const started = await spawnComponent(configPath, c.name);
        children.set(c.name, started.child);
        addresses.set(c.name, started.address);
      }),
    );
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    await stop();
    throw err;
  }
  return { children, addresses, stop };
}
