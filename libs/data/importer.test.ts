import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cooccurrence } from './batch/jobs/cooccurrence.js';
import { runBatchJobs } from './batch/run.js';
import { eventsView, openDuck, queryRows } from './duck.js';
import { importInteractions } from './importer.js';
import { readSnapshot } from './snapshots.js';
import { readWorldManifest } from './world.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'feedloom-import-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// MovieLens u.data format: user \t item \t rating \t unix seconds, no header. Lines 5, 8, 9, 11, 12 are bad.
const U_DATA =
  [
    '196\t242\t3\t881250949',
    '186\t302\t3\t891717742',
    '22\t377\t1\t878887116',
    '196\t377\t5\t881251000',
    'this line has no tabs',
    '166\t346\t1\t886397596',
    '298\t474\t4\t884182806',
    '',
    '115\t265\t2\tx881171488',
    '253\t465\t5\t891628467',
    '305\t451\tthree\t886324817',
    '6\t86\t3',
    '196\t51\t4\t881251100',
  ].join('\n') + '\n';

async function query<T>(worldDir: string, sql: string): Promise<T[]> {
  const duck = await openDuck();
  try {
    await eventsView(duck.conn, worldDir);
    return await queryRows<T>(duck.conn, sql);
  } finally {
    duck.close();
  }
}

describe('importInteractions', () => {
  it('imports a MovieLens u.data file as it is and reports each bad line with its reason', async () => {
    const input = path.join(tmp, 'u.data');
    fs.writeFileSync(input, U_DATA);
    const dir = path.join(tmp, 'ml');
    const result = await importInteractions({
      input,
      dir,
      sep: 'tab',
      columns: ['user', 'item', 'rating', 'timestamp'],
    });

    expect(result.imported).toBe(8);
    expect(result.timestampUnit).toBe('s');
    expect(result.rejected).toEqual([
      { line: 5, reason: 'expected 4 fields separated by tabs, found 1' },
      { line: 8, reason: 'empty line' },
      { line: 9, reason: "timestamp 'x881171488' is neither a number nor an ISO-8601 date" },
      { line: 11, reason: "rating 'three' is not a number" },
      { line: 12, reason: 'expected 4 fields separated by tabs, found 3' },
    ]);
    expect(result.world).toMatchObject({
      source: 'import',
      hasTruth: false,
      counts: { users: 6, items: 7, creators: 0, boards: 0, events: 16 },
      features: { creators: false, boards: false, topics: false, locales: false },
    });
    expect(await readWorldManifest(dir)).toEqual(result.world);
    expect(result.world.startMs).toBe(Date.UTC(1997, 10, 7)); // the day of 878887116 s
    expect(result.world.startMs + result.world.days * 86_400_000).toBeGreaterThan(891717742_000);

    // Every interaction is an impression plus its action; rating >= 4 is a save.
    const events = await query<{
      user_id: string;
      item_id: string;
      action: string;
      time_ms: number;
      session_id: string;
    }>(dir, `SELECT * FROM events WHERE user_id = 'u196' ORDER BY time_ms, action <> 'impression'`);
    expect(events.map((e) => [e.item_id, e.action, e.time_ms])).toEqual([
      ['i242', 'impression', 881250949_000],
      ['i242', 'click', 881250949_000],
      ['i377', 'impression', 881251000_000],
      ['i377', 'save', 881251000_000],
      ['i51', 'impression', 881251100_000],
      ['i51', 'save', 881251100_000],
    ]);
    expect(new Set(events.map((e) => e.session_id)).size).toBe(1); // minutes apart: one session

    // What the file lacks is absent, never invented, and the views still have their columns.
    const [counts] = await query<Record<string, number>>(
      dir,
      `SELECT (SELECT count(*) FROM creators) AS creators, (SELECT count(*) FROM boards) AS boards,
              (SELECT count(*) FROM board_items) AS board_items, (SELECT count(*) FROM follows) AS follows,
              (SELECT count(*) FROM users WHERE locale IS NULL AND len(topics) = 0) AS bare_users,
              (SELECT count(*) FROM items WHERE creator_id IS NULL AND topic IS NULL AND locale IS NULL) AS bare_items`,
    );
    expect(counts).toEqual({ creators: 0, boards: 0, board_items: 0, follows: 0, bare_users: 6, bare_items: 7 });

    // The batch jobs run on it unchanged.
    const jobs = await runBatchJobs({ worldDir: dir });
    expect(Object.fromEntries(jobs.map((j) => [j.name, j.rows]))).toMatchObject({
      popularity: 7,
      creator_items: 0,
      item_meta: 7,
    });
    // u196 engaged i242, i377 and i51 within minutes; i377 also has a second user, which dilutes it.
    const neighbors = await readSnapshot(path.join(dir, 'snapshots'), cooccurrence);
    expect(neighbors.rows.find((r) => r.item_id === 'i242')?.neighbors).toEqual([
      { item_id: 'i51', score: 1 },
      { item_id: 'i377', score: 0.707107 }, // 1 / sqrt(2), to 6 decimals
    ]);
  });

  it('reads headers, quoted fields, explicit actions and millisecond timestamps', async () => {
    const input = path.join(tmp, 'log.csv');
    fs.writeFileSync(
      input,
      [
        'who,what,when,did,rating',
        'alice,"pin, red",1767225600000,hide,5',
        'bob,pin-blue,1767225660000,,5',
        'bob,pin-blue,1767225720000,like,5',
        'carol,pin-red,2026-01-02T10:00:00Z,impression,',
      ].join('\r\n'),
    );
    const dir = path.join(tmp, 'csv');
    const result = await importInteractions({
      input,
      dir,
      sep: 'comma',
      header: true,
      columns: ['user', 'item', 'timestamp', 'action', 'rating'],
    });
    expect(result.rejected).toEqual([
      { line: 4, reason: "unknown action 'like' (expected impression|click|save|hide)" },
    ]);
    expect(result.timestampUnit).toBe('ms');
    const rows = await query<{ user_id: string; item_id: string; action: string; time_ms: number }>(
      dir,
      `SELECT user_id, item_id, action, time_ms FROM events WHERE action <> 'impression' OR user_id = 'ucarol' ORDER BY time_ms`,
    );
    expect(rows).toEqual([
      { user_id: 'ualice', item_id: 'ipin, red', action: 'hide', time_ms: 1767225600000 },
      { user_id: 'ubob', item_id: 'ipin-blue', action: 'save', time_ms: 1767225660000 },
      { user_id: 'ucarol', item_id: 'ipin-red', action: 'impression', time_ms: Date.UTC(2026, 0, 2, 10) },
    ]);
  });

  it('refuses column lists it cannot use and files with no usable row', async () => {
    const input = path.join(tmp, 'junk.tsv');
    fs.writeFileSync(input, 'a\tb\nc\n');
    const dir = path.join(tmp, 'junk');
    await expect(
      importInteractions({ input, dir, sep: 'tab', columns: ['user', 'item', 'stars', 'timestamp'] }),
    ).rejects.toThrow(/unknown import column\(s\) stars/);
    await expect(importInteractions({ input, dir, sep: 'tab', columns: ['user', 'item'] })).rejects.toThrow(
      /must include 'timestamp'/,
    );
    await expect(
      importInteractions({ input, dir, sep: 'tab', columns: ['user', 'item', 'timestamp'] }),
    ).rejects.toThrow(/no usable rows .*line 1: expected 3 fields/);
    await expect(
      importInteractions({ input: path.join(tmp, 'missing'), dir, sep: 'tab', columns: ['user', 'item', 'timestamp'] }),
    ).rejects.toThrow(/cannot be read/);
  });

  it('replaces an earlier import of the same file by moving it aside, and refuses anything else', async () => {
    const input = path.join(tmp, 'again.data');
    fs.writeFileSync(input, U_DATA);
    const dir = path.join(tmp, 'again');
    await importInteractions({ input, dir, sep: 'tab', columns: ['user', 'item', 'rating', 'timestamp'] });
    const second = await importInteractions({
      input,
      dir,
      sep: 'tab',
      columns: ['user', 'item', 'rating', 'timestamp'],
    });
    expect(second.movedTo).toMatch(/again\.replaced-\d{8}T\d{6}Z(-\d+)?$/);
    expect((await readWorldManifest(second.movedTo!)).counts.events).toBe(16);

    const other = path.join(tmp, 'other.data');
    fs.writeFileSync(other, U_DATA);
    await expect(
      importInteractions({ input: other, dir, sep: 'tab', columns: ['user', 'item', 'rating', 'timestamp'] }),
    ).rejects.toThrow(
      new RegExp(
        `${dir} already holds the imported world 'again.data' \\(16 events\\); refusing .*feedloom import --force`,
      ),
    );
    const forced = await importInteractions({
      input: other,
      dir,
      sep: 'tab',
      columns: ['user', 'item', 'rating', 'timestamp'],
      force: true,
    });
    expect(forced.movedTo).toBeDefined();
    expect((await readWorldManifest(dir)).name).toBe('other.data');
  });
});
