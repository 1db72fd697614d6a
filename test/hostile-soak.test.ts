// The hostile-client soak, short (issue 16): one process per service on a copy of the test world,
// every attack of the audit in a loop for 20 s (after a 40 s warm-up round) while Blends flow at 5/s (each with 30 s: this is a
// test of what the attacks do, and the suite loads the machine). Every Blend must come back with
// items, no process may restart, and no process's memory may grow by more than 50 MB.
// `make bench` runs the 60 s one at 10/s with 5 s deadlines (bench/hostile-soak.ts).
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { startProcesses } from '../services/ops/mesh/run.js';
import { SOAK_MAX_IDS, soakMesh, soakTargets, soakWithMemory } from '../services/ops/soak/hostile-clients.js';
import { activeUsers } from './fixtures/events.js';
import { blendUntil, spreadPorts, testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

describe('hostile clients, while Blends flow', () => {
  let copy: string;
  let mesh: Awaited<ReturnType<typeof startProcesses>>;
  let users: string[];

  beforeAll(async () => {
    // A copy: the attacks log events into the world's live log.
    copy = mkdtempSync(join(tmpdir(), 'feedloom-soak-'));
    const world = join(copy, 'world');
    cpSync(await testWorld(), world, { recursive: true });
    const { mesh: config, path } = testMeshConfig(world, (raw) => {
      soakMesh(raw);
      spreadPorts(raw);
      // The new-ids attack reaches the cap within the warm-up (the world holds ~1,500 ids).
      raw.services.events.maxIds = SOAK_MAX_IDS;
    });
    mesh = await startProcesses(config, path);
    users = await activeUsers(world, 20);
  }, 180_000);
  afterAll(async () => {
    await mesh?.stop();
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('answers every Blend with items, restarts nothing, and grows no process by 50 MB', async () => {
    const blender = connect(BlenderClient, mesh.addresses.get('blender')!);
    // Warm: fresh processes compile their hot paths on the first calls.
    let i = 0;
    await blendUntil(
      () =>
        callUnary(
          blender,
          'blend',
          { userId: users[i++ % users.length], limit: 20, debug: false, requestId: '' },
          { timeoutMs: 5_000 },
        ),
      (r) => r.items.length > 0 && r.warnings.length === 0,
      60_000,
    );
    blender.close();
    // Start: the highest RSS of each process during a first round of every attack (a process's first
    // minute grows its heap to its working size, and its RSS swings with each collection); end: the
    // median of its readings over the soak's last 5 s.
    const targets = soakTargets(mesh.addresses);
    const pids = new Map([...mesh.children].map(([name, child]) => [name, child.pid!] as const));
    const { report, growth: rows } = await soakWithMemory(targets, pids, {
      seconds: 20,
      blendRate: 5,
      blendDeadlineMs: 30_000,
      users,
      // The viewer's RSS rises for about 40 s of EmbedUser floods before it levels off (docs/SECURITY.md).
      warmSeconds: 40,
      lastSeconds: 5,
    });
    console.log(JSON.stringify({ blends: report.blends, attacks: report.attacks, rss: rows }, null, 1));
    expect(report.blends.sent).toBeGreaterThan(80);
    expect(report.blends.withItems).toBe(report.blends.sent);
    for (const [name, child] of mesh.children)
      expect({ name, exit: child.exitCode ?? child.signalCode }).toEqual({ name, exit: null });
    for (const r of rows)
      expect(
        r.endMb - r.startMb,
        `${r.process} grew from ${r.startMb.toFixed(0)} to ${r.endMb.toFixed(0)} MB`,
      ).toBeLessThan(50);
    // Every attack ran and was answered.
    for (const [name, tally] of Object.entries(report.attacks)) expect(tally.calls, name).toBeGreaterThan(0);
  }, 240_000);
});
