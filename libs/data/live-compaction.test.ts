import { mkdtemp, readdir, rm, utimes, writeFile, mkdir, rename, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventsView, openDuck, queryRows } from './duck.js';
import { compactLiveLog } from './live-compaction.js';
import { compactingName } from './live-files.js';
import { DAY_MS, readWorldManifest, worldPaths, writeWorldManifest } from './world.js';

const START = Date.UTC(2026, 0, 1);
const line = (seq: number, timeMs: number) =>
  JSON.stringify({
    user_id: `u${seq}`,
    item_id: 'i1',
    action: 'click',
    time_ms: timeMs,
    board_id: '',
    source: 'popular',
    request_id: 'r',
    seq,
  }) + '\n';

let world: string;
let live: string;
const dayDir = (day: string) => join(live, `day=${day}`);
const quiet = { closedAfterMs: 3_600_000, idleForMs: 1_000, settleMs: 10 };

/** A live file of n events on the given day, last written long ago (idle). */
async function liveFile(day: string, name: string, seqs: number[], timeMs: number, idle = true): Promise<string> {
  await mkdir(dayDir(day), { recursive: true });
  const file = join(dayDir(day), name);
  await writeFile(file, seqs.map((s) => line(s, timeMs + s)).join(''));
  if (idle) await utimes(file, new Date(0), new Date(0));
  return file;
}

async function count(): Promise<number> {
  const duck = await openDuck();
  try {
    await eventsView(duck.conn, world);
    return (await queryRows<{ n: number }>(duck.conn, 'SELECT count(*) AS n FROM events'))[0].n;
  } finally {
    duck.close();
  }
}

beforeEach(async () => {
  world = await mkdtemp(join(tmpdir(), 'live-compaction-'));
  live = worldPaths(world).live;
  await writeWorldManifest(world, {
    name: 't',
    source: 'simulator',
    startMs: START,
    days: 3,
    counts: { users: 0, items: 0, creators: 0, boards: 0, events: 0 },
    features: { creators: false, boards: false, topics: false, locales: false },
    hasTruth: false,
    createdAt: '',
  });
});
afterEach(async () => {
  await rm(world, { recursive: true, force: true });
});

describe('compactLiveLog', () => {
  it('turns a closed, idle day into one verified Parquet file and removes its live files; leaves open and busy days', async () => {
    const d4 = START + 3 * DAY_MS; // 2026-01-04, after the world's days
    await liveFile('2026-01-04', 'a.jsonl', [1, 2, 3], d4);
    await liveFile('2026-01-04', 'b.jsonl', [4, 5], d4);
    await liveFile('2026-01-05', 'c.jsonl', [6], d4 + DAY_MS + 2 * 3_600_000, false); // closed day, but written just now
    await liveFile('2026-01-06', 'd.jsonl', [7], d4 + 2 * DAY_MS); // the open day (newest event)
    expect(await count()).toBe(7);

    const result = await compactLiveLog(world, quiet);
    expect(result.skipped).toEqual([]);
    expect(result.days.map((d) => [d.day, d.files, d.rows])).toEqual([['2026-01-04', 2, 5]]);
    expect(await readdir(dayDir('2026-01-04'))).toEqual([]);
    expect(await readdir(dayDir('2026-01-05'))).toEqual(['c.jsonl']);
    expect(await readdir(dayDir('2026-01-06'))).toEqual(['d.jsonl']);
    const parquet = await readdir(join(worldPaths(world).events, 'day=2026-01-04'));
    expect(parquet).toEqual([expect.stringMatching(/^live-[a-z0-9]+\.parquet$/)]);
    expect(await count()).toBe(7);
    // The world now reaches the compacted day.
    expect(await readWorldManifest(world)).toMatchObject({ days: 4, counts: { events: 5 } });
  });

  it('leaves a day with a line it cannot read as it is', async () => {
    const d2 = START + DAY_MS;
    const file = await liveFile('2026-01-02', 'a.jsonl', [1, 2], d2);
    await writeFile(file, (await readFile(file, 'utf8')) + '{"user_id": broken\n');
    await utimes(file, new Date(0), new Date(0));
    await liveFile('2026-01-03', 'b.jsonl', [3], START + 2 * DAY_MS + DAY_MS / 2);
    const result = await compactLiveLog(world, { ...quiet, closedAfterMs: 1_000 });
    expect(result.days).toEqual([]);
    expect(result.skipped).toEqual(['2026-01-02: 2 of 3 lines readable']);
    expect(await readdir(join(worldPaths(world).events))).toEqual(['live']);
    expect((await readdir(dayDir('2026-01-02'))).length).toBe(1);
    expect(await count()).toBe(3);
  });

  it('an interrupted compaction counts each event once meanwhile, and the next run finishes it', async () => {
    const d2 = START + DAY_MS;
    const file = await liveFile('2026-01-02', 'a.jsonl', [1, 2], d2);
    await liveFile('2026-01-03', 'b.jsonl', [3], START + 2 * DAY_MS + DAY_MS / 2);
    // A run that died after renaming the live file and writing the Parquet file (crash before the delete).
    await compactLiveLog(world, { ...quiet, closedAfterMs: 1_000 });
    const [parquet] = await readdir(join(worldPaths(world).events, 'day=2026-01-02'));
    const id = /^live-([a-z0-9]+)\.parquet$/.exec(parquet)![1];
    await liveFile('2026-01-02', 'a.jsonl', [1, 2], d2);
    await rename(file, compactingName(file, id));
    expect(await count()).toBe(3);

    const result = await compactLiveLog(world, { ...quiet, closedAfterMs: 1_000 });
    expect(result.days.map((d) => [d.day, d.rows])).toEqual([['2026-01-02', 2]]);
    expect(await readdir(dayDir('2026-01-02'))).toEqual([]);
    expect(await count()).toBe(3);
  });
});
