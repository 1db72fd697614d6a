import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

/** The mesh config: the single list of services, ports and generator settings both run modes read. */

const port = z.number().int().min(0).max(65535);
const name = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be lower_snake_case (a-z, 0-9, _), starting with a letter');

/** Host names may use dashes (e.g. a StatefulSet pod, ann-0). */
const hostName = z.string().regex(/^[a-z][a-z0-9_-]*$/, 'must be lower case (a-z, 0-9, _, -), starting with a letter');

const service = z
  .object({
    port,
    /** Where others reach it, when not on `host:port` (e.g. dns:///blender:50051 on Kubernetes). */
    address: z.string().min(1).optional(),
  })
  .strict();

export const GeneratorKinds = ['learned', 'graph', 'heuristic'] as const;
export type GeneratorKindName = (typeof GeneratorKinds)[number];

const generator = z
  .object({
    name,
    kind: z.enum(GeneratorKinds),
    port,
    address: z.string().min(1).optional(),
    enabled: z.boolean().default(true),
    /** Most candidates asked of it per request. */
    quota: z.number().int().min(1).max(10_000).default(200),
    /** Its own deadline inside a Blend; late answers are dropped. */
    deadlineMs: z.number().int().min(1).max(10_000).default(60),
    /** Its weight in the blended pre-score. */
    weight: z.number().min(0).max(100).default(1),
    /** Generator-specific settings, passed to its module. */
    settings: z.record(z.unknown()).default({}),
  })
  .strict();

const blender = service
  .extend({
    /** The whole Blend's budget for the fan-out (each generator also has its own). */
    fanoutDeadlineMs: z.number().int().min(1).max(10_000).default(120),
    hydrateDeadlineMs: z.number().int().min(1).max(10_000).default(80),
    defaultLimit: z.number().int().min(1).max(500).default(50),
    /** Reciprocal-rank-fusion constant of the pre-score. */
    rrfK: z.number().min(0).max(1000).default(60),
    /** At most this many items of one creator on a page. */
    maxPerCreator: z.number().int().min(1).max(500).default(3),
    /** At most this share of a page from any single generator's exclusive proposals. */
    maxSourceShare: z.number().min(0.05).max(1).default(0.6),
  })
  .strict();

export const MeshConfigSchema = z
  .object({
    world: z
      .object({
        preset: z.enum(['tiny', 'small', 'default', 'large']).default('default'),
        seed: z.number().int().default(7),
        /** World directory, relative to the config file. */
        dir: z.string().min(1),
        /** Where generators read snapshots; defaults to <dir>/snapshots. */
        snapshotsDir: z.string().min(1).optional(),
        /** Serve the world as it was at this time (ms): history after it is ignored. For evaluation and replays. */
        asOfMs: z.number().int().positive().optional(),
      })
      .strict(),
    /** The host services are reached on when they have no explicit address. */
    host: z.string().min(1).default('127.0.0.1'),
    /** The interface servers bind to; 0.0.0.0 when running across machines. Defaults to host. */
    listenHost: z.string().min(1).optional(),
    telemetry: z
      .object({
        /** Each service serves Prometheus metrics on its gRPC port + this offset (0: no endpoint). */
        metricsPortOffset: z.number().int().min(0).max(60_000).default(1_000),
      })
      .strict()
      .default({}),
    /** How often generators look for newer snapshots. */
    snapshotPollMs: z.number().int().min(100).max(3_600_000).default(5_000),
    /** Model registry root (one folder per model version); defaults to <world.dir>/models. */
    registryDir: z.string().min(1).optional(),
    services: z
      .object({
        events: service,
        blender,
        /** The transformer ranker; absent means the blender keeps pre-score order. */
        ranker: service
          .extend({
            /** How many of the pre-scored candidates the blender sends to be ranked. */
            topN: z.number().int().min(1).max(2_000).default(200),
            deadlineMs: z.number().int().min(1).max(10_000).default(40),
            /** Utility = Σ weight × head probability. */
            weights: z.object({ click: z.number().default(1), save: z.number().default(2), hide: z.number().default(-4) }).strict().default({}),
            model: z.string().min(1).default('ranker'),
          })
          .strict()
          .optional(),
        /** The status page (HTTP); absent: the blender's port + 2000. */
        admin: service.optional(),
        /** The user-tower server; absent when no learned model is served. */
        viewer: service.extend({ keepVersions: z.number().int().min(1).max(20).default(3) }).strict().optional(),
      })
      .strict(),
    /** ANN hosts (shards × replicas); absent when no learned model is served. */
    ann: z
      .object({
        hosts: z.array(z.object({ name: hostName, port, address: z.string().min(1).optional(), shard: z.number().int().min(0).default(0) }).strict()).min(1),
        efSearch: z.number().int().min(1).max(4096).default(64),
        nprobe: z.number().int().min(1).max(4096).default(8),
      })
      .strict()
      .optional(),
    generators: z.array(generator).min(1, 'must list at least one generator'),
  })
  .strict()
  .superRefine((mesh, ctx) => {
    const seen = new Map<string, string>();
    // Ports clash only on the shared mesh host; a service with its own address lives elsewhere.
    const claim = (p: number, owner: string, path: (string | number)[], address?: string) => {
      if (p === 0 || address) return;
      const other = seen.get(String(p));
      if (other) ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: `port ${p} is already used by ${other}` });
      else seen.set(String(p), owner);
    };
    const { events, blender, ranker, viewer } = mesh.services;
    claim(events.port, 'services.events', ['services', 'events', 'port'], events.address);
    claim(blender.port, 'services.blender', ['services', 'blender', 'port'], blender.address);
    if (ranker) claim(ranker.port, 'services.ranker', ['services', 'ranker', 'port'], ranker.address);
    if (viewer) claim(viewer.port, 'services.viewer', ['services', 'viewer', 'port'], viewer.address);
    mesh.ann?.hosts.forEach((h, i) => claim(h.port, `ann.hosts[${i}] (${h.name})`, ['ann', 'hosts', i, 'port'], h.address));
    const names = new Set<string>();
    mesh.generators.forEach((g, i) => {
      if (names.has(g.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['generators', i, 'name'], message: `duplicate generator "${g.name}"` });
      names.add(g.name);
      claim(g.port, `generators[${i}] (${g.name})`, ['generators', i, 'port'], g.address);
    });
  });

export type MeshConfig = z.infer<typeof MeshConfigSchema>;
export type GeneratorConfig = MeshConfig['generators'][number];
export type BlenderConfig = MeshConfig['services']['blender'];

export class ConfigError extends Error {
  constructor(source: string, issues: string[]) {
    super(`invalid mesh config ${source}:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const pathOf = (path: (string | number)[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(root)';

/** Validates a config object; every problem is reported with the field it is in. */
export function parseMeshConfig(raw: unknown, source = '(inline)'): MeshConfig {
  const result = MeshConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, result.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`));
  return result.data;
}

export const DEFAULT_CONFIG_PATH = 'config/mesh.json';

/** Reads and validates the config file; world.dir comes back absolute. */
export function loadMeshConfig(path = process.env.FEEDLOOM_CONFIG ?? DEFAULT_CONFIG_PATH): MeshConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(path, [`cannot read it as JSON: ${(err as Error).message}`]);
  }
  const config = parseMeshConfig(raw, path);
  const base = dirname(resolve(path));
  if (!isAbsolute(config.world.dir)) config.world.dir = resolve(base, config.world.dir);
  if (config.world.snapshotsDir && !isAbsolute(config.world.snapshotsDir)) config.world.snapshotsDir = resolve(base, config.world.snapshotsDir);
  if (config.registryDir && !isAbsolute(config.registryDir)) config.registryDir = resolve(base, config.registryDir);
  return config;
}

/** The Prometheus endpoint of a service listening on `port`, or undefined when disabled. */
export function metricsEndpointOf(mesh: MeshConfig, port: number): { host: string; port: number } | undefined {
  const offset = mesh.telemetry.metricsPortOffset;
  return offset > 0 && port > 0 ? { host: mesh.listenHost ?? mesh.host, port: port + offset } : undefined;
}

export function registryDirOf(mesh: MeshConfig): string {
  return mesh.registryDir ?? join(mesh.world.dir, 'models');
}

export function snapshotsDirOf(mesh: MeshConfig): string {
  return mesh.world.snapshotsDir ?? join(mesh.world.dir, 'snapshots');
}

/** Where a service is reached: its explicit address, or the mesh host and its port. */
export function addressOf(mesh: MeshConfig, svc: { port: number; address?: string }): string {
  return svc.address ?? `${mesh.host}:${svc.port}`;
}
