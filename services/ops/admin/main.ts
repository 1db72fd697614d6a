// The status page as its own process:
//   node --import tsx services/ops/admin/main.ts [--config config/mesh.json] [--port N] [--host H] [--refresh-s S]
// The port defaults to FEEDLOOM_ADMIN_PORT, else the blender's port + 2000. Prints one JSON line
// {"event":"listening",...} when ready; stops on SIGTERM or SIGINT.
import { parseArgs } from 'node:util';
import { intFlag } from '../../../libs/bootstrap/command.js';
import { loadMeshConfig } from '../../../libs/config/mesh.js';
import { adminPortOf, startAdmin } from './server.js';

const USAGE = 'usage: services/ops/admin/main.ts [--config FILE] [--port N] [--host HOST] [--refresh-s SECONDS]';

try {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'refresh-s': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const mesh = loadMeshConfig(values.config);
  const port = intFlag('port', values.port, 0, 65_535) ?? adminPortOf(mesh);
  const refreshS = intFlag('refresh-s', values['refresh-s'], 1, 3_600);
  const admin = await startAdmin(mesh, { port, host: values.host, refreshMs: refreshS ? refreshS * 1000 : undefined });
  console.log(JSON.stringify({ event: 'listening', service: 'admin', url: admin.url, port: admin.port }));
  const stop = (signal: string) => {
    console.error(`received ${signal}; stopping the status page`);
    void admin.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (err) {
  console.error(`cannot start the status page: ${(err as Error).message}`);
  console.error(USAGE);
  process.exit(1);
}
