import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsView, openDuck, queryRows } from '../../../libs/data/duck.js';
import { simulateWorld } from '../../../libs/data/simulator/index.js';
import { DAY_MS, readWorldManifest } from '../../../libs/data/world.js';
import { cycleWindow, windowWorld } from './window.js';

const START = Date.UTC(2026, 0, 1);

describe('cycleWindow', () => {
  it('ends at the end of the newest day and holds out the newest heldoutDays', () => {
    expect(cycleWindow({ startMs: START, days: 14 }, 28, 1)).toEqual({
      trainStartMs: START,
      heldoutStartMs: START + 13 * DAY_MS,
      endMs: START + 14 * DAY_MS,
      windowDays: 14,
      heldoutDays: 1,
    });
    expect(cycleWindow({ startMs: START, days: 14 }, 5, 2)).toEqual({
      trainStartMs: START + 9 * DAY_MS,
      heldoutStartMs: START + 12 * DAY_MS,
      endMs: START + 14 * DAY_MS,
      windowDays: 5,
      heldoutDays: 2,
    });
  });

  it('refuses a world too short to train on, and a window no longer than the held-out days', () => {
    expect(() => cycleWindow({ startMs: START, days: 1 }, 28, 1)).toThrow(
      /1 day\(s\) of events: a cycle needs at least 2/,
    );
    expect(() => cycleWindow({ startMs: START, days: 10 }, 2, 2)).toThrow(
      /windowDays \(2\) must exceed retrain\.heldoutDays \(2\)/,
    );
  });
});

describe('windowWorld', () => {
  let tmp: string;
  let world: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-window-'));
    world = path.join(tmp, 'world');
    await simulateWorld({ preset: 'tiny', seed: 3, dir: world, days: 5, log: () => {} });
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('is the world itself when the window covers the whole log', async () => {
    expect(
      await windowWorld(world, cycleWindow(await readWorldManifest(world), 28, 1), path.join(tmp, 'view-all')),
    ).toBe(world);
  });

  it('otherwise is a view with the catalog and only the window days of the event log', async () => {
    const window = cycleWindow(await readWorldManifest(world), 3, 1);
    const view = await windowWorld(world, window, path.join(tmp, 'view'));
    expect(view).toBe(path.join(tmp, 'view'));
    expect(await readWorldManifest(view)).toMatchObject({ startMs: START + 2 * DAY_MS, days: 3 });
    const duck = await openDuck();
    try {
      const count = async (dir: string) => {
        await eventsView(duck.conn, dir);
        return (
          await queryRows<{ n: bigint; first: bigint; items: bigint }>(
            duck.conn,
            'SELECT count(*) AS n, min(time_ms) AS first, (SELECT count(*) FROM items) AS items FROM events',
          )
        )[0];
      };
      const all = await count(world);
      const windowed = await count(view);
      expect(Number(windowed.first)).toBeGreaterThanOrEqual(window.trainStartMs);
      expect(Number(windowed.n)).toBeGreaterThan(0);
      expect(Number(windowed.n)).toBeLessThan(Number(all.n));
      expect(windowed.items).toBe(all.items);
    } finally {
      duck.close();
    }
  });
});
