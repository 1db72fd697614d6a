// The events service as components of the mesh (services/servers.ts): one, or with
// services.events.replicas one per replica, named events.<r> and listening on the port of its own
// address, so `up` (in one process or a process each) starts them all and Kubernetes starts
// events.$(FEEDLOOM_EVENTS_REPLICA) in pod events-<r>.
import type { RunningServer } from '../../libs/bootstrap/server.js';
import { meshChannelOf, serverSecurityOf } from '../../libs/bootstrap/mesh-security.js';
import { eventsOwnershipOf, replicaPortOf, type EventsOwnership } from '../../libs/config/events-replicas.js';
import type { MeshConfig } from '../../libs/config/mesh.js';
import { operationsPortOf } from '../../libs/config/security.js';
import { startEvents } from './events-service.js';

export interface EventsComponent {
  name: string;
  port: number;
  start(): Promise<RunningServer>;
}

export function eventsComponents(
  mesh: MeshConfig,
  host: string,
  options: { ephemeralPorts?: boolean } = {},
): EventsComponent[] {
  const { events } = mesh.services;
  // With ephemeral ports (offline jobs: the eval, the replays) the replicas' addresses cannot hold:
  // one events server owns every partition there.
  const replicas = options.ephemeralPorts ? undefined : events.replicas;
  const component = (name: string, port: number, ownership?: EventsOwnership): EventsComponent => ({
    name,
    port,
    start: () =>
      startEvents({
        worldDir: mesh.world.dir,
        asOfMs: mesh.world.asOfMs,
        seenWindowMs: events.seenWindowHours * 3_600_000,
        clockSpeed: mesh.world.clockSpeed,
        host,
        port: options.ephemeralPorts ? 0 : port,
        adminPort: options.ephemeralPorts ? 0 : operationsPortOf(mesh.security, 'events', port),
        limits: mesh.serverLimits,
        security: serverSecurityOf(mesh),
        eventTimes: events,
        maxIds: events.maxIds,
        backend: events.backend,
        jetstream: events.jetstream,
        owners: ownership && { ownership, channel: meshChannelOf(mesh) },
      }),
  });
  if (!replicas) return [component('events', events.port)];
  return replicas.map((_, r) => {
    const ownership = eventsOwnershipOf(events, r)!;
    return component(`events.${r}`, replicaPortOf(ownership), ownership);
  });
}
