// The server layer as one list: every per-request server of the mesh config as a component that can
// be started, in start-up order, and all of them started in this process ("all-in-one"). Offline
// jobs (the eval, the ranker's pre-score replay) serve the mesh this way; services/ops/mesh adds
// the status page and the one-process-per-component mode.
import type { RunningServer } from '../libs/bootstrap/server.js';
import { registryDirOf, snapshotsDirOf, type MeshConfig } from '../libs/config/mesh.js';
import { operationsPortOf } from '../libs/config/security.js';
import { serveGenerator } from '../libs/generator-sdk/serve.js';
import { annHostOptionsFromMesh, startAnnHost } from './ann/service.js';
import { startBlender } from './blender/service.js';
import { eventsComponents } from './events/events-components.js';
import { generatorPoolFor } from './generators/pool.js';
import { checkGeneratorSettings, loadGeneratorModule } from './generators/registry.js';
import { startRanker } from './ranker/service.js';
import { startViewer, viewerOptionsFromMesh } from './viewer/service.js';

/** One servable part of the mesh, named as on the command line: events, blender, generator.<name>. */
export interface Component {
  name: string;
  /** Its configured gRPC port (its metrics endpoint is derived from it). */
  port: number;
  start(): Promise<RunningServer>;
}

/** A running mesh, in either mode: where each component listens, and how to stop it all. */
export interface RunningMesh {
  addresses: Map<string, string>;
  stop(): Promise<void>;
}

export interface ComponentOptions {
  /** Every server on a free port (tests, the eval); later components learn earlier ones' ports. */
  ephemeralPorts?: boolean;
  /** The one component of its process (a process per service, Kubernetes): picks defaults such as the Blend concurrency. */
  alone?: boolean;
}

/** Every server the config lists, in start-up order (events first: the blender needs it). */
export function serverComponents(mesh: MeshConfig, options: ComponentOptions = {}): Component[] {
  const host = mesh.listenHost ?? mesh.host;
  const port = portOf(options);
  // A component's admin listener: its configured one, or any free port with ephemeral ports.
  const adminPort = (component: string, configured: number) =>
    options.ephemeralPorts ? 0 : operationsPortOf(mesh.security, component, configured);
  const snapshotsDir = snapshotsDirOf(mesh);
  const poolFor = generatorPoolFor(mesh);
  return [
    ...eventsComponents(mesh, host, options),
    // Learned retrieval: the user-tower server and the ANN hosts, before the generators that call them.
    ...(mesh.services.viewer
      ? [
          {
            name: 'viewer',
            port: mesh.services.viewer.port,
            start: () => startViewer(viewerOptionsFromMesh(mesh, { host, port: port(mesh.services.viewer!.port) })),
          },
        ]
      : []),
    ...(mesh.ann?.hosts ?? []).map((h) => ({
      name: `ann.${h.name}`,
      port: h.port,
      start: () =>
        startAnnHost(
          annHostOptionsFromMesh(mesh, h.name, {
            host,
            port: port(h.port),
            adminPort: adminPort(`ann.${h.name}`, h.port),
          }),
        ),
    })),
    ...mesh.generators.map((g) => ({
      name: `generator.${g.name}`,
      port: g.port,
      start: async () => {
        const lease = await poolFor(g.name);
        const server = await serveGenerator(await loadGeneratorModule(g.name), {
          snapshotsDir,
          settings: g.settings,
          pollMs: mesh.snapshotPollMs,
          host,
          port: port(g.port),
          mesh,
          pool: lease.pool,
        }).catch(async (err) => {
          await lease.release();
          throw err;
        });
        const stop = server.stop;
        return Object.assign(server, { stop: (graceMs?: number) => stop(graceMs).finally(lease.release) });
      },
    })),
    // The transformer ranker, before the blender that calls it.
    ...(mesh.services.ranker
      ? [
          {
            name: 'ranker',
            port: mesh.services.ranker.port,
            start: () =>
              startRanker(mesh, {
                snapshotsDir,
                registryDir: registryDirOf(mesh),
                host,
                port: port(mesh.services.ranker!.port),
              }),
          },
        ]
      : []),
    {
      name: 'blender',
      port: mesh.services.blender.port,
      start: () =>
        startBlender(mesh, {
          snapshotsDir,
          host,
          port: port(mesh.services.blender.port),
          adminPort: adminPort('blender', mesh.services.blender.port),
          alone: options.alone,
        }),
    },
  ];
}

/** The port a component listens on: its configured one, or 0 (any free one) with ephemeral ports. */
export const portOf =
  (options: ComponentOptions) =>
  (configured: number): number =>
    options.ephemeralPorts ? 0 : configured;

/** Starts the components one after the other in this process, each on its own port, still talking gRPC. */
export async function startInProcess(
  mesh: MeshConfig,
  components: Component[],
  options: ComponentOptions = {},
): Promise<RunningMesh & { servers: RunningServer[] }> {
  await checkGeneratorSettings(mesh);
  const servers: RunningServer[] = [];
  const addresses = new Map<string, string>();
  try {
    // With ephemeral ports, later components must learn earlier ones' addresses.
    for (const component of components) {
      const server = await component.start();
      servers.push(server);
      addresses.set(component.name, server.address);
      if (options.ephemeralPorts) pointConfigAt(mesh, component.name, server.port, server.adminPort);
    }
    // The generators and the ranker warm up side by side; the mesh is up once those that can have
    // (one still without its data or model warms up when they arrive).
    await Promise.all(servers.map((s) => s.warming?.()));
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop(100)));
    throw err;
  }
  return {
    servers,
    addresses,
    stop: async () => void (await Promise.all([...servers].reverse().map((s) => s.stop()))),
  };
}

/** Every server of the config in this process (no status page: see services/ops/mesh/run.ts startAllInOne). */
export function startServers(
  mesh: MeshConfig,
  options: ComponentOptions = {},
): Promise<RunningMesh & { servers: RunningServer[] }> {
  return startInProcess(mesh, serverComponents(mesh, options), options);
}

/** With ephemeral ports, records where a component really listens, for the components after it. */
function pointConfigAt(mesh: MeshConfig, component: string, port: number, adminPort?: number): void {
  if (adminPort !== undefined) mesh.security.adminPorts[component] = adminPort;
  const services = mesh.services as Record<string, { port: number } | undefined>;
  const [kind, name] = component.split('.', 2);
  if (kind === 'generator') {
    const g = mesh.generators.find((x) => x.name === name);
    if (g) g.port = port;
  } else if (kind === 'ann') {
    const h = mesh.ann?.hosts.find((x) => x.name === name);
    if (h) h.port = port;
  } else if (services[component]) {
    services[component]!.port = port;
  }
}
