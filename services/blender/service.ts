import { BlenderService } from '../../generated/feedloom/v1/blender.js';
import { EventsClient } from '../../generated/feedloom/v1/events.js';
import { RankerClient } from '../../generated/feedloom/v1/ranker.js';
import { connect } from '../../libs/bootstrap/client.js';
import { meshChannelOf, serverSecurityOf } from '../../libs/bootstrap/mesh-security.js';
import { operationsPortOf } from '../../libs/config/security.js';
import { intOrDefault, optionalId, requireId } from '../../libs/bootstrap/validate.js';
import { bindService, startServer, type RunningServer } from '../../libs/bootstrap/server.js';
import { AdmissionController } from '../../libs/bootstrap/admission.js';
import { addressOf, admissionSettingsOf, type GeneratorConfig, type MeshConfig } from '../../libs/config/mesh.js';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import { parseGeneratorSettings } from '../../libs/generator-sdk/define.js';
import { hasGeneratorModule, loadGeneratorModule } from '../generators/registry.js';
import { SnapshotSource } from '../../libs/data/snapshot-source.js';
import { itemCatalogSnapshot } from '../../libs/blend/catalog.js';
import { VariantPolicies } from '../../libs/blend/policy.js';
import { ExperimentRecord } from './experiment-record.js';
import { runBlend, type BlendDeps } from './pipeline.js';
import { FanOutGeneratorClient } from './stages/fan-out.js';
import { AdaptiveQuota } from '../../libs/blend/adaptive-quota.js';
import { observeQuotas } from './blend-metrics.js';

export const MAX_LIMIT = 500;

/** A generator module's per-request rule with its configured settings, when it declares one. */
async function perRequestEnable(g: GeneratorConfig): Promise<((user: UserContext) => boolean) | undefined> {
  if (!hasGeneratorModule(g.name)) return undefined;
  const module = await loadGeneratorModule(g.name);
  if (!module.enable) return undefined;
  const settings = parseGeneratorSettings(module, g.settings);
  return (user) => module.enable!(user, settings);
}

/** The Blender service: reads the mesh config for who to ask and how. */
export async function createBlender(mesh: MeshConfig, options: { snapshotsDir: string; alone?: boolean }) {
  const catalog = new SnapshotSource(itemCatalogSnapshot, options.snapshotsDir);
  await catalog.start(mesh.snapshotPollMs);
  // The mesh token: GetUserContext is an operation for callers outside the mesh.
  const channel = meshChannelOf(mesh);
  const events = connect(EventsClient, addressOf(mesh, mesh.services.events), channel);
  const cfg = mesh.services.blender;
  const deps: BlendDeps = {
    events,
    generators: await Promise.all(
      mesh.generators.map(async (g) => ({
        name: g.name,
        client: connect(FanOutGeneratorClient, addressOf(mesh, g), channel),
        enabled: g.enabled,
        enable: await perRequestEnable(g),
        quota: g.quota,
        deadlineMs: g.deadlineMs,
        adaptiveQuota: g.latencyTargetMs ? new AdaptiveQuota(g.latencyTargetMs, cfg.adaptiveQuota) : undefined,
      })),
    ),
    catalog: () => catalog.current?.data,
    hydrateDeadlineMs: cfg.hydrateDeadlineMs,
    fanoutDeadlineMs: cfg.fanoutDeadlineMs,
    policies: new VariantPolicies(mesh),
    ranker: mesh.services.ranker && {
      client: connect(RankerClient, addressOf(mesh, mesh.services.ranker), channel),
      topN: mesh.services.ranker.topN,
      deadlineMs: mesh.services.ranker.deadlineMs,
    },
    experiments: new ExperimentRecord(mesh.experiments),
  };
  const binding = bindService(
    BlenderService,
    {
      async blend(request, ctx) {
        requireId('user_id', request.userId);
        const limit = intOrDefault('limit', request.limit, cfg.defaultLimit, MAX_LIMIT);
        optionalId('request_id', request.requestId);
        return runBlend(request, limit, deps, { requestId: request.requestId || ctx.requestId, signal: ctx.signal });
      },
      async experimentReport() {
        return deps.experiments.report();
      },
    },
    {
      // A debug Blend hands out the user's recent history: an operation. The feed path is open.
      blend: (request) => request.debug,
      // How the experiments do is for the people running them.
      experimentReport: () => true,
    },
  );
  // Blends are where the queue forms: each is tens of ms of the thread, so the server admits them
  // (or refuses them at once) before the handler runs.
  const admission = {
    blend: new AdmissionController(
      'blender',
      'Blend',
      admissionSettingsOf(mesh, 'blend', { alone: options.alone }),
      'admission.blend',
    ),
  };
  const unobserve = observeQuotas(deps.generators);
  return {
    binding,
    admission,
    close() {
      unobserve();
      catalog.stop();
      events.close();
      for (const g of deps.generators) g.client.close();
      deps.ranker?.client.close();
    },
  };
}

export async function startBlender(
  mesh: MeshConfig,
  options: { snapshotsDir: string; host?: string; port?: number; adminPort?: number; alone?: boolean },
): Promise<RunningServer> {
  const blender = await createBlender(mesh, options);
  const port = options.port ?? mesh.services.blender.port;
  const server = await startServer({
    name: 'blender',
    // The interface to bind (0.0.0.0 on Kubernetes); `host` is where the others are reached.
    host: options.host ?? mesh.listenHost ?? mesh.host,
    port,
    limits: mesh.serverLimits,
    services: [blender.binding],
    admission: blender.admission,
    security: serverSecurityOf(mesh),
    // Debug Blends for operators, on the admin port too.
    admin: { port: options.adminPort ?? operationsPortOf(mesh.security, 'blender', port), services: [blender.binding] },
  });
  const stop = server.stop;
  return Object.assign(server, {
    stop: async (graceMs?: number) => {
      await stop(graceMs);
      blender.close();
    },
  });
}
