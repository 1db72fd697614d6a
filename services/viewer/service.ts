import {
  ViewerModelService,
  type EmbedUserResponse,
  type ListVersionsResponse,
} from '../../generated/feedloom/v1/viewer.js';
import { ServingStatus } from '../../libs/bootstrap/health.js';
import { bindService, startServer, type RunningServer, type ServerSecurity } from '../../libs/bootstrap/server.js';
import { serverSecurityOf } from '../../libs/bootstrap/mesh-security.js';
import type { ServerLimits } from '../../libs/config/server-limits.js';
import { optionalId, requireId } from '../../libs/bootstrap/validate.js';
import { registryDirOf, type MeshConfig } from '../../libs/config/mesh.js';
import { validateUserContext } from '../../libs/bootstrap/user-context.js';
import { Viewer, type ViewerOptions } from './viewer.js';

const SERVICE = 'feedloom.v1.ViewerModel';

export function viewerBinding(viewer: Viewer) {
  return bindService(ViewerModelService, {
    async embedUser(request, ctx): Promise<EmbedUserResponse> {
      const user = validateUserContext('user', request.user);
      requireId('model', request.model);
      requireId('version', request.version);
      const { embedding, tower } = await viewer.embed(user, request.model, request.version, ctx.signal);
      return { embedding: Array.from(embedding), model: tower.model, version: tower.version };
    },
    async listVersions(request): Promise<ListVersionsResponse> {
      optionalId('model', request.model);
      return { versions: viewer.list(request.model || undefined) };
    },
  });
}

export interface ViewerServerOptions extends ViewerOptions {
  host?: string;
  port: number;
  limits?: ServerLimits;
  security?: ServerSecurity;
  /** How often the registry is polled for new versions. */
  pollMs: number;
}

/** Starts the viewer: loads the user towers the registry has, serves ViewerModel, keeps polling. */
export async function startViewer(options: ViewerServerOptions): Promise<RunningServer & { viewer: Viewer }> {
  const viewer = new Viewer(options);
  const server = await startServer({
    name: 'viewer',
    host: options.host,
    port: options.port,
    limits: options.limits,
    services: [viewerBinding(viewer)],
    security: options.security,
  });
  const health = () => server.health.set(SERVICE, viewer.ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  viewer.onChange = health;
  health();
  try {
    await viewer.start(options.pollMs);
  } catch (err) {
    await server.stop(100);
    throw err;
  }
  const stop = server.stop;
  return Object.assign(server, {
    viewer,
    stop: async (graceMs?: number) => {
      await stop(graceMs);
      await viewer.close();
    },
  });
}

export function viewerOptionsFromMesh(
  mesh: MeshConfig,
  overrides: Partial<ViewerServerOptions> = {},
): ViewerServerOptions {
  const viewer = mesh.services.viewer;
  if (!viewer) throw new Error('the mesh config has no services.viewer');
  return {
    registryDir: registryDirOf(mesh),
    keepVersions: viewer.keepVersions,
    maxPendingEmbeds: viewer.maxPendingEmbeds,
    pollMs: mesh.snapshotPollMs,
    host: mesh.listenHost ?? mesh.host,
    security: serverSecurityOf(mesh),
    port: viewer.port,
    limits: mesh.serverLimits,
    ...overrides,
  };
}
