import type { RunningServer } from '../../../libs/bootstrap/server.js';
import { registryDirOf, snapshotsDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { serveGenerator } from '../../../libs/generator-sdk/serve.js';
import { annHostOptionsFromMesh, startAnnHost } from '../../ann/service.js';
import { adminComponent } from '../admin/component.js';
import { startBlender } from '../../blender/service.js';
import { startEvents } from '../../events/events-service.js';
import { loadGeneratorModule } from '../../generators/registry.js';
import { startRanker } from '../../ranker/service.js';
import { startViewer, viewerOptionsFromMesh } from '../../viewer/service.js';

/** One servable part of the mesh, named as on the command line: events, blender, generator.<name>. */
export interface Component {
  name: string;
  /** Its configured gRPC port (its metrics endpoint is derived from it). */
  port: number;
  start(): Promise<RunningServer>;
}

/** Every component the config lists, in start-up order (events first: the blender needs it). */
export function meshComponents(mesh: MeshConfig, options: { ephemeralPorts?: boolean } = {}): Component[] {
  const host = mesh.listenHost ?? mesh.host;
  const port = (p: number) => (options.ephemeralPorts ? 0 : p);
  const snapshotsDir = snapshotsDirOf(mesh);
  return [
    { name: 'events', port: mesh.services.events.port, start: () => startEvents({ worldDir: mesh.world.dir, asOfMs: mesh.world.asOfMs, host, port: port(mesh.services.events.port) }) },
    // Learned retrieval: the user-tower server and the ANN hosts, before the generators that call them.
    ...(mesh.services.viewer
      ? [{ name: 'viewer', port: mesh.services.viewer.port, start: () => startViewer(viewerOptionsFromMesh(mesh, { host, port: port(mesh.services.viewer!.port) })) }]
      : []),
    ...(mesh.ann?.hosts ?? []).map((h) => ({
      name: `ann.${h.name}`,
      port: h.port,
      start: () => startAnnHost(annHostOptionsFromMesh(mesh, h.name, { host, port: port(h.port) })),
    })),
    ...mesh.generators.map((g) => ({
      name: `generator.${g.name}`,
      port: g.port,
      start: async () =>
        serveGenerator(await loadGeneratorModule(g.name), { snapshotsDir, settings: g.settings, pollMs: mesh.snapshotPollMs, host, port: port(g.port), mesh }),
    })),
    // The transformer ranker, before the blender that calls it.
    ...(mesh.services.ranker
      ? [{ name: 'ranker', port: mesh.services.ranker.port, start: () => startRanker(mesh, { snapshotsDir, registryDir: registryDirOf(mesh), host, port: port(mesh.services.ranker!.port) }) }]
      : []),
    { name: 'blender', port: mesh.services.blender.port, start: () => startBlender(mesh, { snapshotsDir, port: port(mesh.services.blender.port) }) },
    // The status page (HTTP), last: it reads every other component's address from the config.
    adminComponent(mesh, port),
  ];
}

export function findComponent(mesh: MeshConfig, name: string): Component {
  const all = meshComponents(mesh);
  const found = all.find((c) => c.name === name || c.name === `generator.${name}`);
  if (!found) throw new Error(`no component "${name}" in the mesh config; known: ${all.map((c) => c.name).join(', ')}`);
  return found;
}
