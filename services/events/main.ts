import { parseArgs } from 'node:util';
import { stopOnSignals } from '../../libs/bootstrap/lifecycle.js';
import { loadMeshConfig } from '../../libs/config/mesh.js';
import { startEvents } from './events-service.js';
import { meshTokensOf } from '../../libs/bootstrap/credentials.js';
import { SecuritySchema, operationsPortOf } from '../../libs/config/security.js';
import { eventsOwnershipOf, replicaIndexFromEnv, replicaPortOf } from '../../libs/config/events-replicas.js';
import { meshChannelOf } from '../../libs/bootstrap/mesh-security.js';

/** node --import tsx services/events/main.ts [--config config/mesh.json] [--port N] [--world DIR] [--replica INDEX] */

const USAGE =
  'usage: node --import tsx services/events/main.ts [--config config/mesh.json] [--port N] [--world DIR] [--replica INDEX]\n' +
  '  --replica INDEX (or FEEDLOOM_EVENTS_REPLICA): which of services.events.replicas this process is';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      world: { type: 'string' },
      replica: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.error(USAGE);
    return;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new Error(`--port: must be an integer from 0 to 65535 (got ${values.port})`);
  }
  const replica = values.replica === undefined ? replicaIndexFromEnv() : Number(values.replica);
  // The config is needed only for what the flags leave open.
  const config =
    values.config || port === undefined || values.world === undefined || replica !== undefined
      ? loadMeshConfig(values.config)
      : undefined;
  const ownership = config && eventsOwnershipOf(config.services.events, replica);
  const worldDir = values.world ?? config!.world.dir;
  // A replica listens on the port of its own address in services.events.replicas.
  const listenPort = port ?? (ownership ? replicaPortOf(ownership) : config!.services.events.port);
  // Without a config: the world's default admin token (<world>/run/admin-token), made if missing.
  const security = config?.security ?? SecuritySchema.parse({});
  const server = await startEvents({
    worldDir,
    host: config ? (config.listenHost ?? config.host) : undefined,
    port: listenPort,
    adminPort: operationsPortOf(security, 'events', listenPort),
    security: { tokens: meshTokensOf(security, worldDir).accepted, tls: security.tls },
    limits: config?.serverLimits,
    eventTimes: config?.services.events,
    maxIds: config?.services.events.maxIds,
    backend: config?.services.events.backend,
    jetstream: config?.services.events.jetstream,
    asOfMs: config?.world.asOfMs,
    seenWindowMs: config && config.services.events.seenWindowHours * 3_600_000,
    clockSpeed: config?.world.clockSpeed,
    owners: ownership && { ownership, channel: meshChannelOf(config!) },
  });
  stopOnSignals(() => [server]);
  process.stdout.write(JSON.stringify({ event: 'listening', service: 'events', address: server.address }) + '\n');
}

main().catch((err: Error) => {
  console.error(`events: ${err.message}`);
  process.exit(1);
});
