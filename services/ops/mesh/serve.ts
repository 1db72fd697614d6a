// One mesh component in this process: `node --import tsx services/ops/mesh/serve.ts [--config FILE] NAME`.
// Prints one JSON line {"event":"listening",...} when ready; drains on SIGTERM.
import { parseArgs } from 'node:util';
import { tuneGarbageCollector } from '../../../libs/bootstrap/gc-tuning.js';
import { stopOnSignals } from '../../../libs/bootstrap/lifecycle.js';
import { startTelemetry } from '../../../libs/bootstrap/telemetry.js';
import { DEFAULT_CONFIG_PATH, loadMeshConfig, metricsEndpointOf } from '../../../libs/config/mesh.js';
import { checkGeneratorSettings } from '../../generators/registry.js';
import { findComponent } from './components.js';

const { values, positionals } = parseArgs({ options: { config: { type: 'string' } }, allowPositionals: true });
if (positionals.length !== 1) {
  console.error('usage: serve.ts [--config FILE] COMPONENT   (events, blender, or a generator name)');
  process.exit(2);
}
tuneGarbageCollector();
try {
  const configPath = values.config ?? process.env.FEEDLOOM_CONFIG ?? DEFAULT_CONFIG_PATH;
  const mesh = loadMeshConfig(configPath);
  await checkGeneratorSettings(mesh, configPath);
  const component = findComponent(mesh, positionals[0]);
  const telemetry = startTelemetry({
    serviceName: `feedloom.${component.name}`,
    prometheus: metricsEndpointOf(mesh, component.port),
  });
  const server = await component.start();
  stopOnSignals(
    () => [server],
    () => telemetry.shutdown(),
  );
  console.log(
    JSON.stringify({
      event: 'listening',
      service: component.name,
      address: server.address,
      metrics: telemetry.metricsUrl,
    }),
  );
} catch (err) {
  console.error(`cannot start ${positionals[0]}: ${(err as Error).message}`);
  process.exit(1);
}
