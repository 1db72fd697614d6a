// The services the status page watches, read from the mesh config on every refresh (ports can be
// rewritten after start-up, e.g. all-in-one on ephemeral ports).
import { addressOf, type MeshConfig } from '../../../libs/config/mesh.js';
import type { ServiceRole } from './status.js';

export interface Target {
  /** events, blender, ranker, viewer, ann.<host>, generator.<name>: the mesh's component names. */
  name: string;
  role: ServiceRole;
  /** The gRPC service whose rpc_server_duration is this service's latency. */
  grpcService: string;
  address: string;
  port: number;
  enabled?: boolean;
  /** A shadow generator: asked, never on the page. */
  shadow?: boolean;
  /** Its own Prometheus endpoint (gRPC port + telemetry.metricsPortOffset), when enabled. */
  metricsUrl?: string;
}

/** The host part of a gRPC target: "h:1", "dns:///h:1", "[::1]:1" → h, h, ::1. */
export function hostOfAddress(address: string): string {
  const bare = address.replace(/^[a-z]+:(\/\/[^/]*\/)?/i, '');
  const bracketed = /^\[([^\]]+)\]/.exec(bare);
  if (bracketed) return bracketed[1];
  const colon = bare.lastIndexOf(':');
  return colon > 0 ? bare.slice(0, colon) : bare;
}

/** Where a service's metrics are scraped: the host it is reached on, its port + the offset. */
export function metricsUrlOf(mesh: MeshConfig, svc: { port: number; address?: string }): string | undefined {
  const offset = mesh.telemetry.metricsPortOffset;
  if (offset <= 0 || svc.port <= 0) return undefined;
  const host = hostOfAddress(addressOf(mesh, svc));
  return `http://${host.includes(':') ? `[${host}]` : host}:${svc.port + offset}/metrics`;
}

export function targetsOf(mesh: MeshConfig): Target[] {
  const target = (
    name: string,
    role: ServiceRole,
    grpcService: string,
    svc: { port: number; address?: string },
    extra: Partial<Target> = {},
  ): Target => ({
    name,
    role,
    grpcService,
    address: addressOf(mesh, svc),
    port: svc.port,
    metricsUrl: metricsUrlOf(mesh, svc),
    ...extra,
  });
  const { events, blender, ranker, viewer } = mesh.services;
  return [
    target('events', 'events', 'feedloom.v1.Events', events),
    target('blender', 'blender', 'feedloom.v1.Blender', blender),
    ...(ranker ? [target('ranker', 'ranker', 'feedloom.v1.Ranker', ranker)] : []),
    ...(viewer ? [target('viewer', 'viewer', 'feedloom.v1.ViewerModel', viewer)] : []),
    ...(mesh.ann?.hosts ?? []).map((h) => target(`ann.${h.name}`, 'ann', 'feedloom.v1.AnnSearch', h)),
    ...mesh.generators.map((g) =>
      target(`generator.${g.name}`, 'generator', 'feedloom.v1.CandidateGenerator', g, {
        enabled: g.enabled,
        shadow: g.shadow,
      }),
    ),
  ];
}
