// `simulate --live` against a real all-in-one mesh on a copy of the tiny test world, its world clock
// at a simulated day per 15 s: the simulator's users ask for feeds, react by the simulator's model,
// and their impressions and actions reach the events service (GetUserContext shows them); the daily
// table adds up; a Log batch sent again with its idempotency key is not counted twice.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlendResponse } from '../generated/feedloom/v1/blender.js';
import { ActionType } from '../generated/feedloom/v1/common.js';
import { EventsClient, type LogRequest } from '../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import type { LiveSession } from '../libs/data/simulator/index.js';
import { runCli } from '../services/ops/cli/commands.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { DAY_TABLE_HEADER, formatDay, formatDayHeader, type DayStats } from '../services/ops/simulate/daily-stats.js';
import { runLiveSimulation } from '../services/ops/simulate/live.js';
import { testAdminToken, testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

const SPEED = 86_400 / 15;

describe('simulate --live', () => {
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  let config: ReturnType<typeof testMeshConfig>['mesh'];
  let events: EventsClient;
  const played: { session: LiveSession; feed: BlendResponse; logged?: LogRequest }[] = [];
  let days: DayStats[];
  let copy: string;

  beforeAll(async () => {
    // A copy: the live events are written into the world's live log.
    copy = mkdtempSync(join(tmpdir(), 'feedloom-simulate-live-'));
    const world = join(copy, 'world');
    cpSync(await testWorld(), world, { recursive: true });
    config = testMeshConfig(world, (raw) => {
      raw.world.clockSpeed = SPEED;
    }).mesh;
    mesh = await startAllInOne(config, { ephemeralPorts: true });
    events = connect(EventsClient, mesh.addresses.get('events')!, { inProcess: false, token: testAdminToken() });
    days = await runLiveSimulation({
      mesh: config,
      addresses: { blender: mesh.addresses.get('blender')!, events: mesh.addresses.get('events')! },
      days: 1,
      users: 40,
      seed: 5,
      onSession: (session, feed, logged) => played.push({ session, feed, logged }),
    });
  }, 300_000);

  afterAll(async () => {
    events?.close();
    await mesh?.stop();
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('requests feeds and logs what the users did, which GetUserContext then shows', async () => {
    expect(days).toHaveLength(1);
    const [day] = days;
    expect(day.feeds).toBeGreaterThan(5);
    expect(day.feeds).toBe(played.length);
    expect(day.failedFeeds).toBe(0);
    expect(new Set(played.map((p) => p.session.userId)).size).toBeLessThanOrEqual(40);

    // A user who clicked: the click and the impressions of that session are in the user's context.
    const clicked = played.find((p) => p.logged?.events.some((e) => e.action === ActionType.ACTION_TYPE_CLICK));
    expect(clicked, 'some session has a click').toBeDefined();
    const { userId } = clicked!.session;
    const context = await callUnary(events, 'getUserContext', { userId, maxActions: 100 }, { timeoutMs: 5_000 });
    const click = clicked!.logged!.events.find((e) => e.action === ActionType.ACTION_TYPE_CLICK)!;
    expect(context.recentActions.some((a) => a.itemId === click.itemId && a.timeMs === click.timeMs)).toBe(true);
    const impressions = clicked!.logged!.events.filter((e) => e.action === ActionType.ACTION_TYPE_IMPRESSION);
    expect(impressions.length).toBeGreaterThan(0);
    for (const e of impressions) expect(context.seenItems).toContain(e.itemId);
    // The world clock ran at the configured speed: the live events sit on the day after the world's.
    expect(context.requestTimeMs).toBeGreaterThanOrEqual(click.timeMs);
  });

  it('prints a daily table with plausible numbers', () => {
    const [day] = days;
    expect(formatDayHeader().split(/\s+/)).toEqual([...DAY_TABLE_HEADER]);
    const logged = played.flatMap((p) => p.logged?.events ?? []);
    const count = (action: ActionType) => logged.filter((e) => e.action === action).length;
    expect(day.impressions).toBe(count(ActionType.ACTION_TYPE_IMPRESSION));
    expect(day.clicks).toBe(count(ActionType.ACTION_TYPE_CLICK));
    expect(day.saves).toBe(count(ActionType.ACTION_TYPE_SAVE));
    // 10 to 30 slots a session; every page the users scrolled was logged.
    expect(day.impressions).toBeGreaterThanOrEqual(day.feeds * 5);
    expect(day.impressions).toBeLessThanOrEqual(day.feeds * 30);
    expect(day.saves).toBeLessThanOrEqual(day.clicks);
    expect(day.engagementRate).toBeCloseTo((day.clicks + day.saves) / day.impressions, 10);
    expect(day.engagementRate).toBeGreaterThan(0.01);
    expect(day.engagementRate).toBeLessThan(0.6);
    // Shares by the generators that proposed the engaged items (split among an item's sources).
    const generators = new Set(config.generators.map((g) => g.name));
    for (const [g, share] of Object.entries(day.engagementShare)) {
      expect(generators).toContain(g);
      expect(share).toBeGreaterThan(0);
    }
    expect(Object.values(day.engagementShare).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    // The test world serves two_tower v0001 on every feed.
    expect(Object.keys(day.twoTower)).toEqual(['v0001']);
    expect(Object.values(day.ranker).reduce((a, b) => a + b, 0)).toBe(day.feeds);
    const row = formatDay(day);
    expect(row).toMatch(new RegExp(`^${day.day} +${day.feeds} +0 +${day.impressions} +${day.clicks} +${day.saves} `));
    expect(row).toMatch(/v0001×\d+/);
    // The mesh's clock ran on while it started: the day is joined midway, and the row says so.
    expect(row).toMatch(/\n {2}(played from \d\d:\d\d; )?engagement by source: \w+ \d+\.\d%/);
  });

  it('a retried Log batch with the same idempotency key is not counted twice', async () => {
    // A session with a click, which the user's recent actions show.
    const session = played.find((p) => p.logged?.events.some((e) => e.action === ActionType.ACTION_TYPE_CLICK))!;
    const { userId } = session.session;
    const actionsOf = async () =>
      (await callUnary(events, 'getUserContext', { userId, maxActions: 100 }, { timeoutMs: 5_000 })).recentActions;
    const before = await actionsOf();
    expect(before.length).toBeGreaterThan(0);
    const again = await callUnary(events, 'log', session.logged!, { timeoutMs: 5_000 });
    expect(again.duplicate).toBe(true);
    expect(again.accepted).toBe(session.logged!.events.length);
    expect(await actionsOf()).toEqual(before);
  });

  it('the command refuses to run without --live', async () => {
    await expect(runCli(['simulate', '--config', 'config/mesh.json'])).rejects.toThrow(/simulate needs --live/);
  });
});
