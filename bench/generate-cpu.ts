// The CPU of a generator's own work: its module's generate called in-process on this thread (no
// gRPC, no worker), over real hydrated user contexts of the config's world, its data prepared from
// the current snapshots. For comparing two forms of the same generator side by side.
//   node --import tsx bench/generate-cpu.ts [--config config/mesh.json] [--users 200] [--runs 5] [--only a,b]
import { parseArgs } from 'node:util';
import type { UserContext } from '../generated/feedloom/v1/common.js';
import { EventsClient } from '../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { loadMeshConfig, snapshotsDirOf } from '../libs/config/mesh.js';
import { readSnapshot } from '../libs/data/snapshots.js';
import { parseGeneratorSettings } from '../libs/generator-sdk/define.js';
import { startEvents } from '../services/events/events-service.js';
import { loadGeneratorModule } from '../services/generators/registry.js';
import { median, preparedWorldUsers, table } from './lib.js';
import { meshChannelOf, serverSecurityOf } from '../libs/bootstrap/mesh-security.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'config/mesh.json' },
    users: { type: 'string', default: '200' },
    runs: { type: 'string', default: '5' },
    only: { type: 'string' },
  },
});
const mesh = loadMeshConfig(values.config);
const userIds = await preparedWorldUsers(mesh, Number(values.users));
const events = await startEvents({ worldDir: mesh.world.dir, port: 0, security: serverSecurityOf(mesh) });
const client = connect(EventsClient, events.address, meshChannelOf(mesh));
const users: UserContext[] = [];
for (const userId of userIds)
  users.push(await callUnary(client, 'getUserContext', { userId, maxActions: 100 }, { timeoutMs: 10_000 }));
client.close();
await events.stop(100);

const names = values.only?.split(',') ?? mesh.generators.filter((g) => g.enabled).map((g) => g.name);
const rows: (string | number)[][] = [];
const signal = new AbortController().signal;
for (const name of names) {
  const module = await loadGeneratorModule(name);
  const configured = mesh.generators.find((g) => g.name === name);
  const settings = parseGeneratorSettings(module, configured?.settings);
  const quota = configured?.quota ?? 200;
  const loaded: Record<string, unknown[]> = {};
  for (const s of module.snapshots) loaded[s.name] = (await readSnapshot(snapshotsDirOf(mesh), s.name)).rows;
  const data = module.prepare ? module.prepare(loaded as never, settings, mesh) : loaded;
  const perCall: number[] = [];
  for (let run = 0; run <= Number(values.runs); run++) {
    const cpu0 = process.cpuUsage();
    for (const user of users) await module.generate({ user, quota, requestId: 'cpu' }, { data, settings, signal });
    const cpu = process.cpuUsage(cpu0);
    if (run > 0) perCall.push((cpu.user + cpu.system) / users.length); // run 0 warms up
  }
  rows.push([name, quota, median(perCall)]);
}
console.log(`${users.length} users, medians of ${values.runs} runs (after one warm-up run)`);
console.log(table(['generator', 'quota', 'CPU µs per call'], rows));
process.exit(0);
