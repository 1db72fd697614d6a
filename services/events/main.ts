import { parseArgs } from 'node:util';
import { stopOnSignals } from '../../libs/bootstrap/lifecycle.js';
import { loadMeshConfig } from '../../libs/config/mesh.js';
import { startEvents } from './events-service.js';

/** node --import tsx services/events/main.ts [--config config/mesh.json] [--port N] [--world DIR] */

const USAGE = 'usage: node --import tsx services/events/main.ts [--config config/mesh.json] [--port N] [--world DIR]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      world: { type: 'string' },
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
  // The config is needed only for what the flags leave open.
  const config =
    values.config || port === undefined || values.world === undefined ? loadMeshConfig(values.config) : undefined;
  const server = await startEvents({
    worldDir: values.world ?? config!.world.dir,
    host: config ? (config.listenHost ?? config.host) : undefined,
    port: port ?? config!.services.events.port,
    limits: config?.serverLimits,
    eventTimes: config?.services.events,
    maxIds: config?.services.events.maxIds,
    asOfMs: config?.world.asOfMs,
    seenWindowMs: config && config.services.events.seenWindowHours * 3_600_000,
    clockSpeed: config?.world.clockSpeed,
  });
  stopOnSignals(() => [server]);
  process.stdout.write(JSON.stringify({ event: 'listening', service: 'events', address: server.address }) + '\n');
}

main().catch((err: Error) => {
  console.error(`events: ${err.message}`);
  process.exit(1);
});
