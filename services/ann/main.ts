// One ANN host: `node --import tsx services/ann/main.ts [--config FILE] --host NAME [--serve MODEL=VERSION]…`.
// Like services/ops/mesh/serve.ts ann.NAME, plus the version(s) to serve at start-up. Prints one JSON
// line {"event":"listening",...} when ready; drains on SIGTERM.
import { parseArgs } from 'node:util';
import { stopOnSignals } from '../../libs/bootstrap/lifecycle.js';
import { startTelemetry } from '../../libs/bootstrap/telemetry.js';
import { loadMeshConfig } from '../../libs/config/mesh.js';
import { annHostOptionsFromMesh, startAnnHost } from './service.js';

const { values } = parseArgs({
  options: { config: { type: 'string' }, host: { type: 'string' }, serve: { type: 'string', multiple: true } },
});
try {
  if (!values.host) throw new Error('usage: main.ts [--config FILE] --host NAME [--serve MODEL=VERSION]…');
  const pin: Record<string, string> = {};
  for (const s of values.serve ?? []) {
    const [model, version] = s.split('=');
    if (!model || !version) throw new Error(`--serve takes MODEL=VERSION (got "${s}")`);
    pin[model] = version;
  }
  const mesh = loadMeshConfig(values.config);
  const telemetry = startTelemetry({ serviceName: `feedloom.ann.${values.host}` });
  const server = await startAnnHost(annHostOptionsFromMesh(mesh, values.host, { pin }));
  stopOnSignals(
    () => [server],
    () => telemetry.shutdown(),
  );
  console.log(JSON.stringify({ event: 'listening', service: `ann.${values.host}`, address: server.address }));
} catch (err) {
  console.error(`cannot start ANN host ${values.host ?? ''}: ${(err as Error).message}`);
  process.exit(1);
}
