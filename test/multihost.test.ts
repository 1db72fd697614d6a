// The mesh across hosts for real: network namespaces as hosts on one bridge, every service bound to
// 0.0.0.0 and reached by dns:// names that a real DNS server (dnsmasq) answers, the generator group's
// name with both replicas' addresses. Blends from a client host while a replica is SIGKILLed and
// while two hosts' links are down; per-replica call counts show the spread and the return.
import { type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsmasqUnavailable, startDnsmasq } from './fixtures/dnsmasq.js';
import { activeUsers } from './fixtures/events.js';
import { testMeshConfig } from './fixtures/mesh.js';
import type { ProbeRequest, ProbeResult } from './fixtures/multihost-probe.js';
import { Lan, namespacesUnavailable } from './fixtures/netns.js';
import { registerRankerCopy, trainedTinyRanker } from './fixtures/ranker.js';
import { testWorld } from './fixtures/world.js';
import { ModelRegistry } from '../libs/registry/index.js';

const skipReason = namespacesUnavailable() ?? dnsmasqUnavailable();
if (skipReason) console.warn(`multi-host test skipped: ${skipReason}`);

/** The generator group with two replicas (gen-a, gen-b), behind one DNS name. */
const GROUP = ['popular', 'item_cooccurrence', 'two_tower'];
/**
 * A second group, one replica on its own host. A cut link is not seen by the others until gRPC's
 * keepalive gives up (40 s): until then round robin still sends the cut replica its share, which
 * waits out the generator's deadline. A Blend whose every source went there would have no source
 * OK; in a mesh of several groups some always answer (docs/SCALING.md).
 */
const SOLO = ['followed_creators'];
const REPLICAS = ['gen-a', 'gen-b'];
/** Each host and the components it runs. */
const HOSTS: Record<string, string[]> = {
  client: [],
  dns: [],
  events: ['events'],
  blender: ['ranker', 'blender'],
  'gen-a': GROUP,
  'gen-b': GROUP,
  'gen-solo': SOLO,
  'ann-a': ['ann.a'],
  'ann-b': ['ann.b'],
  viewer: ['viewer'],
};
const serveScript = fileURLToPath(new URL('../services/ops/mesh/serve.ts', import.meta.url));
const probeScript = fileURLToPath(new URL('./fixtures/multihost-probe.ts', import.meta.url));
// grpc-js asks the DNS server named in a dns://SERVER/name target only with its alternative resolver.
const env = { ...process.env, GRPC_NODE_USE_ALTERNATIVE_RESOLVER: 'true' };

describe.skipIf(!!skipReason)('the mesh across hosts (network namespaces, dnsmasq, round robin)', () => {
  let lan: Lan;
  let tmp: string;
  let configPath: string;
  let blenderTarget: string;
  let users: string[];
  /** Replica or ANN host → its servers' metrics URLs. */
  const metrics: Record<string, string[]> = {};
  const children = new Map<string, ChildProcess[]>();

  // Runs `component` of the config on `host`; resolves once it listens.
  const startOn = (host: string, component: string): Promise<ChildProcess> => {
    const child = lan.spawn(
      host,
      process.execPath,
      ['--import', 'tsx', serveScript, '--config', configPath, component],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.set(host, [...(children.get(host) ?? []), child]);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2_000)));
    return new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`${component} on ${host} exited (${code}): ${stderr}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.includes('"event":"listening"')) resolve(child);
      });
    });
  };
  const startHost = (host: string) => Promise.all(HOSTS[host].map((c) => startOn(host, c)));

  const killHost = async (host: string, signal: NodeJS.Signals) => {
    const dying = (children.get(host) ?? []).filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(dying.map((c) => new Promise((r) => (c.once('exit', r), c.kill(signal)))));
    children.delete(host);
  };

  // Blends from the client host; `onBlending` runs once they flow (to inject a fault meanwhile).
  const probe = (mode: ProbeRequest['mode'], forMs: number, onBlending?: () => void): Promise<ProbeResult> => {
    const request: ProbeRequest = { blender: blenderTarget, users, mode, forMs, timeoutMs: 10_000, metrics };
    const child = lan.spawn('client', process.execPath, ['--import', 'tsx', probeScript, JSON.stringify(request)], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return new Promise((resolve, reject) => {
      let result: ProbeResult | undefined;
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.includes('"event":"blending"')) onBlending?.();
        else if (line.startsWith('{')) result = JSON.parse(line) as ProbeResult;
      });
      child.once('exit', (code) => (result ? resolve(result) : reject(new Error(`probe exited (${code})`))));
    });
  };

  const delta = (r: ProbeResult, replica: string) =>
    r.before[replica] == null || r.after[replica] == null ? null : r.after[replica]! - r.before[replica]!;
  const report = (phase: string, r: ProbeResult) => {
    const counts = Object.keys(metrics)
      .map((k) => `${k} ${delta(r, k) === null ? 'unreachable' : `+${delta(r, k)}`}`)
      .join(', ');
    const sources = Object.entries(r.slowestSourceMs)
      .map(([source, ms]) => `${source} ${ms}`)
      .join(', ');
    const notOk = Object.entries(r.sourcesNotOk)
      .map(([source, n]) => `${source} ×${n}`)
      .join(', ');
    console.log(
      `[multihost] ${phase}: ${r.answered} Blends answered (${r.ranked} ranked), ${r.failed} failed,` +
        ` ${r.degraded} with a source not OK` +
        `${notOk ? ` (${notOk})` : ''}, slowest ${r.slowestMs} ms (${sources}); calls per replica: ${counts}` +
        `${r.errors.length ? `; errors: ${r.errors.join(' | ')}` : ''}`,
    );
  };

  beforeAll(async () => {
    const world = await testWorld();
    users = await activeUsers(world, 20);
    lan = new Lan(Object.keys(HOSTS));
    tmp = mkdtempSync(join(tmpdir(), 'feedloom-multihost-'));
    // The world's two-tower versions, and a ranker that passed its gates (the tiny world's own is
    // rejected), so that the ranker host really ranks.
    const registryDir = join(tmp, 'models');
    cpSync(join(world, 'models', 'two_tower'), join(registryDir, 'two_tower'), { recursive: true });
    await registerRankerCopy(new ModelRegistry(registryDir), await trainedTinyRanker());
    const at = (host: string) => lan.host(host).address;
    const dns = `${at('dns')}:53`;
    const dnsmasq = startDnsmasq(
      lan,
      'dns',
      {
        'events.feedloom': [at('events')],
        'blender.feedloom': [at('blender')],
        'generators.feedloom': REPLICAS.map(at),
        'solo.feedloom': [at('gen-solo')],
        'ann-a.feedloom': [at('ann-a')],
        'ann-b.feedloom': [at('ann-b')],
        'viewer.feedloom': [at('viewer')],
      },
      tmp,
    );
    children.set('dns', [dnsmasq]);
    const target = (name: string, port: number) => `dns://${dns}/${name}.feedloom:${port}`;
    const { path, mesh } = testMeshConfig(world, (raw) => {
      raw.listenHost = '0.0.0.0';
      raw.registryDir = registryDir;
      raw.generators = raw.generators.filter((g: { name: string }) => [...GROUP, ...SOLO].includes(g.name));
      for (const g of raw.generators) g.address = target(GROUP.includes(g.name) ? 'generators' : 'solo', g.port);
      const s = raw.services;
      s.events.address = target('events', s.events.port);
      s.blender.address = target('blender', s.blender.port);
      s.ranker.address = target('blender', s.ranker.port);
      // As testMeshConfig does for the generators: a loaded machine must not turn into fallbacks.
      s.ranker.deadlineMs = 2_000;
      s.viewer.address = target('viewer', s.viewer.port);
      for (const h of raw.ann.hosts) h.address = target(`ann-${h.name}`, h.port);
      raw.telemetry = { metricsPortOffset: 1_000 };
      delete s.admin;
    });
    configPath = path;
    blenderTarget = mesh.services.blender.address!;
    const metricsOf = (host: string, ports: number[]) => ports.map((p) => `http://${at(host)}:${p + 1_000}/metrics`);
    const groupPorts = mesh.generators.filter((g) => GROUP.includes(g.name)).map((g) => g.port);
    for (const r of REPLICAS) metrics[r] = metricsOf(r, groupPorts);
    for (const h of mesh.ann!.hosts) metrics[`ann-${h.name}`] = metricsOf(`ann-${h.name}`, [h.port]);

    await Promise.all(Object.keys(HOSTS).map(startHost));
    // Ready: a Blend from the client host with every source OK (each process warms up on its own).
    const ready = await probe('ready', 120_000);
    const why = `${ready.answered} answered, not OK: ${JSON.stringify(ready.sourcesNotOk)}; ${ready.errors.join(' | ')}`;
    expect(ready.ready, `no Blend with every source OK (${why})`).toBe(true);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([...children.keys()].map((h) => killHost(h, 'SIGKILL')));
    const left = lan?.remove() ?? [];
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    expect(left, 'namespaces that could not be deleted').toEqual([]);
  });

  it('answers every Blend across hosts, through a SIGKILLed replica and cut links', { timeout: 300_000 }, async () => {
    const spread = await probe('traffic', 5_000);
    report('both replicas up', spread);
    expect(spread.failed).toBe(0);
    expect(spread.ranked).toBe(spread.answered);
    for (const r of [...REPLICAS, 'ann-a', 'ann-b']) expect(delta(spread, r), r).toBeGreaterThan(0);

    let killed: Promise<void> | undefined;
    const kill = await probe('traffic', 8_000, () => (killed = killHost('gen-b', 'SIGKILL')));
    await killed;
    report('gen-b SIGKILLed', kill);
    expect(kill.failed).toBe(0);
    expect(kill.minItems).toBeGreaterThan(0);
    expect(delta(kill, 'gen-a')).toBeGreaterThan(0);
    expect(kill.after['gen-b']).toBeNull();

    await startHost('gen-b');
    const back = await untilTraffic(['gen-b']);
    report('gen-b restarted', back);
    expect(back.failed).toBe(0);

    let cut = false;
    const down = await probe('traffic', 10_000, () => {
      lan.setLink('gen-a', false);
      lan.setLink('ann-a', false);
      cut = true;
    });
    report('gen-a and ann-a links down', down);
    expect(cut).toBe(true);
    expect(down.failed).toBe(0);
    expect(down.minItems).toBeGreaterThan(0);
    expect(delta(down, 'gen-b')).toBeGreaterThan(0);

    lan.setLink('gen-a', true);
    lan.setLink('ann-a', true);
    const up = await untilTraffic(['gen-a', 'ann-a']);
    report('links up again', up);
    expect(up.failed).toBe(0);
  });

  /** Traffic phases until every one of `replicas` answers calls again (bounded by time, not tries), summed. */
  async function untilTraffic(replicas: string[], withinMs = 90_000): Promise<ProbeResult> {
    const until = Date.now() + withinMs;
    const phases: ProbeResult[] = [];
    do phases.push(await probe('traffic', 3_000));
    while (replicas.some((r) => !(delta(phases.at(-1)!, r)! > 0)) && Date.now() < until);
    for (const r of replicas) expect(delta(phases.at(-1)!, r), `${r} gets calls again`).toBeGreaterThan(0);
    return phases.reduce((sum, p) => ({
      ...sum,
      answered: sum.answered + p.answered,
      failed: sum.failed + p.failed,
      degraded: sum.degraded + p.degraded,
      ranked: sum.ranked + p.ranked,
      errors: [...sum.errors, ...p.errors],
      minItems: Math.min(sum.minItems, p.minItems),
      slowestMs: Math.max(sum.slowestMs, p.slowestMs),
      slowestSourceMs: Object.fromEntries(
        Object.entries(p.slowestSourceMs).map(([k, ms]) => [k, Math.max(ms, sum.slowestSourceMs[k] ?? 0)]),
      ),
      sourcesNotOk: Object.fromEntries(
        [...new Set([...Object.keys(sum.sourcesNotOk), ...Object.keys(p.sourcesNotOk)])].map((k) => [
          k,
          (sum.sourcesNotOk[k] ?? 0) + (p.sourcesNotOk[k] ?? 0),
        ]),
      ),
      after: p.after,
    }));
  }
});
