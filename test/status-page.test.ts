// The status page, end to end: a real all-in-one mesh on the tiny world, the admin page against it,
// loaded in headless Chromium (Debian's package, driven by playwright-core).
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient } from '../generated/feedloom/v1/blender.js';
import { HealthClient, healthCheckResponse_ServingStatusToJSON } from '../generated/grpc/health/v1/health.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { startTelemetry, type Telemetry } from '../libs/bootstrap/telemetry.js';
import { metricsEndpointOf, type MeshConfig } from '../libs/config/mesh.js';
import { ModelRegistry, type ModelState } from '../libs/registry/index.js';
import type { StatusSnapshot } from '../services/ops/admin/status.js';
import { startAdmin, type RunningAdmin } from '../services/ops/admin/server.js';
import type { EvalReport } from '../services/offline/eval/run-eval.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { operatorChannelOf } from '../libs/bootstrap/mesh-security.js';
import { loadGeneratorModule } from '../services/generators/registry.js';
import { activeUsers } from './fixtures/events.js';
import { testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** popular's latencyTargetMs here (test meshes give every generator a 2 s deadline). */
const ADAPTIVE_TARGET_MS = 1_500;
const CHROMIUM = '/usr/bin/chromium';

/** An eval report as `feedloom eval` leaves it in <world>/eval/last.json (the page only reads it). */
function evalReportFor(mesh: MeshConfig, kinds: Map<string, string>): EvalReport & { finishedAt: string } {
  const row = (name: string, kind: string, i: number) => ({
    name,
    kind,
    recall: { '@10': 0.01 + 0.007 * i, '@50': 0.05 + 0.019 * i },
    coverage: 0.1 + 0.02 * i,
    overlap: 0.5,
    marginal: 0.001 * i,
    p50Ms: 1 + i / 10,
    p99Ms: 5 + i,
    errors: 0,
    trueVsOracle: { '@10': 0.1 + 0.01 * i, '@50': 0.2 + 0.01 * i },
  });
  return {
    world: 'tiny-11',
    testDay: '2026-01-08',
    users: 40,
    ks: [10, 50],
    generators: mesh.generators.map((g, i) => row(g.name, kinds.get(g.name)!, i)),
    blend: { ...row('blend', '', mesh.generators.length), name: 'blend (all generators)' },
    oracle: { recall: { '@10': 0.2, '@50': 0.6 }, trueAtK: { '@10': 1.5, '@50': 4.25 } },
    finishedAt: new Date().toISOString(),
  };
}

/** A registry with a history worth showing: one retired version, one serving, one rejected. */
async function registryWithHistory(dir: string): Promise<void> {
  const registry = new ModelRegistry(dir);
  const walks: ModelState[][] = [
    ['trained', 'validated', 'published', 'serving', 'retired'],
    ['trained', 'validated', 'published', 'serving'],
    ['trained', 'rejected'],
  ];
  for (const walk of walks) {
    const { version } = await registry.create('two_tower', async (tmp) => {
      writeFileSync(join(tmp, 'user_tower.onnx'), 'not a real model: the page only reads state history');
      return { dim: 16 };
    });
    for (const state of walk) await registry.setState('two_tower', version, state, `to ${state}`);
  }
}

describe('status page', () => {
  let workDir: string;
  let config: MeshConfig;
  const adminHeaders = () => ({ authorization: `Bearer ${operatorChannelOf(config).token}` });
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  let telemetry: Telemetry;
  let metricsServer: Server;
  let admin: RunningAdmin;
  let launching: Promise<BrowserContext> | undefined;
  let browser: BrowserContext | undefined;
  let page: Page;
  let report: ReturnType<typeof evalReportFor>;
  let users: string[];

  /** One Blend per user, all at once, as feed requests. */
  const feedTraffic = async () => {
    const blender = connect(BlenderClient, mesh.addresses.get('blender')!);
    try {
      await Promise.all(
        users.map((userId) =>
          callUnary(blender, 'blend', { userId, limit: 20, debug: false, requestId: '' }, { timeoutMs: 10_000 }),
        ),
      );
    } finally {
      blender.close();
    }
  };

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'feedloom-status-'));
    // A copy of the shared test world: this test writes into it (eval/last.json, the events log).
    const worldDir = join(workDir, 'world');
    cpSync(await testWorld(), worldDir, { recursive: true });
    // One generator with a latency target: its quota is adaptive, and the page says so.
    ({ mesh: config } = testMeshConfig(worldDir, (raw) => {
      raw.generators.find((g: { name: string }) => g.name === 'popular').latencyTargetMs = ADAPTIVE_TARGET_MS;
    }));
    const kinds = new Map(
      await Promise.all(
        config.generators.map(async (g) => [g.name, (await loadGeneratorModule(g.name)).kind] as const),
      ),
    );
    report = evalReportFor(config, kinds);
    mkdirSync(join(worldDir, 'eval'), { recursive: true });
    writeFileSync(join(worldDir, 'eval', 'last.json'), JSON.stringify(report));

    // Chromium starts while the mesh does; a fresh profile, nothing fetched from the network.
    launching = chromium.launchPersistentContext(join(workDir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      // The status page is an operation: the admin token on every request.
      extraHTTPHeaders: adminHeaders(),
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    // Telemetry before any RPC (instruments bind to the meter provider on first use); the endpoint
    // is served once the blender's port is known, beside it, as `feedloom up --all-in-one` does.
    const exporter = new PrometheusExporter({ preventServerStart: true });
    telemetry = startTelemetry({ serviceName: 'feedloom.mesh', metricReaders: [exporter] });
    mesh = await startAllInOne(config, { ephemeralPorts: true });
    // run.ts points the config at the ephemeral ports of events, blender and generators only (for now).
    for (const [name, address] of mesh.addresses) {
      const port = Number(address.split(':').pop());
      if (name === 'viewer' && config.services.viewer) config.services.viewer.port = port;
      if (name === 'ranker' && config.services.ranker) config.services.ranker.port = port;
      const host = config.ann?.hosts.find((h) => `ann.${h.name}` === name);
      if (host) host.port = port;
    }
    const endpoint = metricsEndpointOf(config, config.services.blender.port)!;
    metricsServer = createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
    await new Promise<void>((resolve, reject) =>
      metricsServer.once('error', reject).listen(endpoint.port, endpoint.host, resolve),
    );

    // Warm the mesh as a feed service would (fresh servers compile their hot paths on first use).
    users = await activeUsers(worldDir, 4);
    await feedTraffic();

    // The page's registry is its own folder, so the mesh's viewer and ANN hosts do not try to load these fake towers.
    const registryDir = join(workDir, 'models');
    await registryWithHistory(registryDir);
    // One sampling round (sampleEveryMs far off), so the shares read from /status.json stay what the
    // page shows; generous probe timeouts, as a loaded 2-core machine must not turn into failures.
    admin = await startAdmin(
      { ...config, registryDir },
      {
        port: 0,
        refreshMs: 1_000,
        minIntervalMs: 500,
        samplesPerRound: 3,
        sampleEveryMs: 600_000,
        probeTimeoutMs: 5_000,
      },
    );

    browser = await launching;
    page = await browser.newPage();
  });

  afterAll(async () => {
    await (browser ?? (await launching?.catch(() => undefined)))?.close();
    await admin?.stop();
    await mesh?.stop();
    await new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined)));
    await telemetry?.shutdown();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('shows every service of the mesh with the health it reports, and refreshes itself', async () => {
    await page.goto(admin.url);
    expect(await page.title()).toBe('feedloom status');

    const services = [...mesh.addresses].filter(([name]) => name !== 'admin');
    expect(services.length).toBeGreaterThan(3);
    // What each service says for itself, asked directly.
    const health = new Map(
      await Promise.all(
        services.map(async ([name, address]) => {
          const client = connect(HealthClient, address);
          try {
            const answer = await callUnary(client, 'check', { service: '' }, { timeoutMs: 3_000 });
            return [name, healthCheckResponse_ServingStatusToJSON(answer.status)] as const;
          } finally {
            client.close();
          }
        }),
      ),
    );
    // What the page shows: one tile per service, named, with that health.
    const tiles = await page.locator('.tile').evaluateAll((nodes) =>
      nodes.map((n) => ({
        service: n.getAttribute('data-service'),
        health: n.getAttribute('data-health'),
        name: n.querySelector('.name')?.textContent,
        state: n.querySelector('.state')?.textContent,
        visible: (n as unknown as { offsetHeight: number }).offsetHeight > 0,
      })),
    );
    expect(tiles.map((t) => t.service)).toEqual(expect.arrayContaining(services.map(([name]) => name)));
    for (const tile of tiles.filter((t) => health.has(t.service!))) {
      const expected = health.get(tile.service!)!;
      // Generators are listed under their own heading, by generator name.
      expect(tile, tile.service!).toEqual({
        service: tile.service,
        health: expected,
        name: tile.service!.replace(/^generator\./, ''),
        state: expected.replace('_', ' '),
        visible: true,
      });
    }
    expect(health.get('events')).toBe('SERVING');
    expect(health.get('blender')).toBe('SERVING');
    const serving = [...health.values()].filter((h) => h === 'SERVING').length;
    expect(await page.locator('[data-summary="serving"]').textContent()).toBe(`${serving}/${services.length} serving`);

    // The page asks for a new body by itself.
    const stamp = page.locator('.stamp');
    const first = await stamp.getAttribute('data-generated');
    await expect.poll(() => stamp.getAttribute('data-generated'), { timeout: 10_000 }).not.toBe(first);
  });

  it("shows each generator's latency, share of the feed and recall, and the model versions", async () => {
    const text = await (await fetch(`${admin.url}status.json`, { headers: adminHeaders() })).text();
    // Where the world lives on this machine is not the page's to tell (the world is under the OS's tmp dir).
    expect(text).not.toContain(config.world.dir);
    expect(text).not.toMatch(/"\/(tmp|home|root|work|var)\//);
    const status = JSON.parse(text) as StatusSnapshot;
    // Share of the feed: from the blender's page-items counter once it has served pages (else sampled
    // Blend pages), every page item attributed to at least one generator.
    expect(['blender-metric', 'sampled-blends']).toContain(status.feedShare.source);
    expect(status.feedShare.pages).toBeGreaterThan(0);
    const sourced = status.feedShare.generators.filter((g) => g.proposed > 0);
    expect(sourced.length).toBeGreaterThan(0);
    expect(Math.max(...status.feedShare.generators.map((g) => g.share))).toBeLessThanOrEqual(1);
    // Latency: the blender's own histogram; for generators the blender's view of each call (or,
    // once servers label their histogram with their name, their own on the shared endpoint).
    expect(status.services.find((s) => s.name === 'blender')!.latency).toMatchObject({ source: 'server' });
    const popular = status.services.find((s) => s.name === 'generator.popular')!;
    expect(popular.kind, "the module's kind, from its Describe").toBe('heuristic');
    expect(['blender-client', 'server-shared']).toContain(popular.latency!.source);
    expect(popular.latency!.calls).toBeGreaterThan(0);

    // Quota: the blender's gauge, out of the configured one. Only popular's may move (within its floor).
    for (const g of config.generators) {
      const quota = status.services.find((s) => s.name === `generator.${g.name}`)!.quota!;
      expect([quota.configured, quota.latencyTargetMs], g.name).toEqual([g.quota, g.latencyTargetMs]);
      if (g.name !== 'popular') expect(quota.current, g.name).toBe(g.quota);
      else expect(quota.current).toBeGreaterThanOrEqual(config.services.blender.adaptiveQuota.minShare * g.quota);
      expect(quota.current).toBeLessThanOrEqual(g.quota);
    }

    // The page loaded by the first test, as it refreshed itself since.
    const quotaCell = (name: string) => page.locator(`tr[data-generator="${name}"] td[data-quota]`);
    const configured = (name: string) => config.generators.find((g) => g.name === name)!.quota;
    const fixed = configured('item_cooccurrence');
    expect(await quotaCell('item_cooccurrence').textContent()).toBe(`${fixed} / ${fixed}`);
    expect(await quotaCell('item_cooccurrence').getAttribute('data-quota')).toBe(String(fixed));
    expect(await quotaCell('popular').innerText()).toMatch(
      new RegExp(`^\\d+ / ${configured('popular')}\\ntarget p99 ${ADAPTIVE_TARGET_MS} ms$`),
    );
    const rows = page.locator('table.gens tr[data-generator]');
    expect(await rows.count()).toBe(config.generators.length);
    for (const g of report.generators) {
      const cell = page.locator(`tr[data-generator="${g.name}"] td[data-recall]`);
      expect(await cell.getAttribute('data-recall'), g.name).toBe(g.recall['@50'].toFixed(4));
      expect(await cell.textContent()).toContain(`${(100 * g.recall['@50']).toFixed(1)}%`);
      // true@50 ÷oracle: the honest oracle's ratio, beside recall.
      const ratio = page.locator(`tr[data-generator="${g.name}"] td[data-true]`);
      expect(await ratio.textContent(), g.name).toBe(`${g.trueVsOracle!['@50'].toFixed(3)}×`);
    }
    expect(status.eval.available && status.eval.oracle?.trueAtK).toEqual({ '@10': 1.5, '@50': 4.25 });
    expect(await page.locator('p.foot', { hasText: 'true@50 ÷oracle' }).textContent()).toContain('4.25 per user');
    const top = status.feedShare.generators.reduce((a, b) => (b.share > a.share ? b : a));
    expect(await page.locator(`tr[data-generator="${top.name}"]`).textContent()).toContain(
      `${(100 * top.share).toFixed(0)}%`,
    );

    // Registry versions with their states (ANN hosts and viewer columns when the config has them).
    expect(await page.locator('tr[data-version="v0002"]').textContent()).toContain('serving');
    expect(await page.locator('tr[data-version="v0001"]').textContent()).toContain('retired');
    expect(await page.locator('tr[data-version="v0003"]').textContent()).toContain('rejected');
    // Its timeline: the track and one segment per state it went through (training … serving).
    expect(await page.locator('tr[data-version="v0002"] svg.timeline rect').count()).toBe(1 + 5);
  });

  it('takes a screenshot', async () => {
    // A little feed traffic first, so the latency window holds recent calls to a warm mesh.
    await feedTraffic();
    const after = Date.now();
    await expect
      .poll(async () => Number(await page.locator('.stamp').getAttribute('data-generated')), { timeout: 10_000 })
      .toBeGreaterThan(after);
    await expect
      .poll(() => page.locator('.tile[data-service="blender"] .tile-lat').textContent(), { timeout: 10_000 })
      .toMatch(/^mean [\d.]+ ms · p99 [\d.]+ ms$/);
    const shot = await page.screenshot({ fullPage: true });
    writeFileSync(join(tmpdir(), 'feedloom-status-page.png'), shot);
    // The README's picture is refreshed only on request, so test runs leave the tree clean.
    if (process.env.UPDATE_DOCS === '1') writeFileSync(join(ROOT, 'docs', 'status-page.png'), shot);
    expect(shot.length).toBeGreaterThan(10_000);
  });

  it('is also served by the mesh itself, as the admin component', async () => {
    const url = mesh.addresses.get('admin');
    expect(url).toMatch(/^http:\/\//);
    expect(await (await fetch(`${url}healthz`)).text()).toBe('ok\n');
  });
});
