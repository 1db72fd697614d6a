import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActionType } from '../../generated/feedloom/v1/common.js';
import { openDuck, sqlString } from '../../libs/data/duck.js';
import { DAY_MS, worldPaths, writeWorldManifest } from '../../libs/data/world.js';
import { loadWorldHistory } from './world-history.js';

const START = Date.UTC(2026, 0, 1);

/** A hand-written two-day world whose every fact the assertions below can name. */
async function writeWorld(dir: string): Promise<void> {
  const p = worldPaths(dir);
  await writeWorldManifest(dir, {
    name: 'hand-written',
    source: 'simulator',
    startMs: START,
    days: 2,
    counts: { users: 3, items: 4, creators: 2, boards: 2, events: 7 },
    features: { creators: true, boards: true, topics: true, locales: true },
    hasTruth: false,
    createdAt: new Date(0).toISOString(),
  });
  await mkdir(p.catalog, { recursive: true });
  const duck = await openDuck();
  const copy = (sql: string, file: string) => duck.conn.run(`COPY (${sql}) TO ${sqlString(file)} (FORMAT parquet)`);
  try {
    await copy(
      `SELECT * FROM (VALUES ('u1', 'de-DE', ['t01'], ${START}), ('u2', 'en-US', ['t02', 't03'], ${START}), ('u3', 'fr-FR', []::VARCHAR[], ${START}))
      t(user_id, locale, topics, signup_ms)`,
      p.table('users'),
    );
    await copy(
      `SELECT * FROM (VALUES ('i1', 'c1', 't01', 'de-DE', ${START}), ('i2', 'c1', 't02', 'de-DE', ${START}),
      ('i3', 'c2', 't02', 'en-US', ${START}), ('i4', 'c2', 't03', 'en-US', ${START})) t(item_id, creator_id, topic, locale, created_ms)`,
      p.table('items'),
    );
    await copy(
      `SELECT * FROM (VALUES ('b1', 'u1', 't01'), ('b2', 'u2', 't02')) t(board_id, owner_user_id, topic)`,
      p.table('boards'),
    );
    await copy(
      `SELECT * FROM (VALUES ('u1', 'creator', 'c2', ${START + 1}), ('u1', 'board', 'b2', ${START + 2}), ('u1', 'creator', 'c1', ${START + 3}))
      t(user_id, target_type, target_id, time_ms)`,
      p.table('follows'),
    );
    const events = (day: number, rows: string) =>
      copy(
        `SELECT user_id, item_id, action, time_ms::BIGINT AS time_ms, board_id, 's' AS session_id, 0 AS position, 'sim' AS source
        FROM (VALUES ${rows}) t(user_id, item_id, action, time_ms, board_id)`,
        p.eventDay(new Date(START + day * DAY_MS).toISOString().slice(0, 10)),
      );
    await mkdir(join(p.events, 'day=2026-01-01'), { recursive: true });
    await mkdir(join(p.events, 'day=2026-01-02'), { recursive: true });
    await events(
      0,
      `('u1', 'i1', 'impression', ${START + 10}, NULL), ('u1', 'i1', 'click', ${START + 11}, NULL),
      ('u1', 'i2', 'impression', ${START + 12}, NULL), ('u2', 'i3', 'impression', ${START + 13}, NULL)`,
    );
    await events(
      1,
      `('u1', 'i2', 'save', ${START + DAY_MS + 1}, 'b1'), ('u1', 'i1', 'impression', ${START + DAY_MS + 2}, NULL),
      ('u1', 'i4', 'hide', ${START + DAY_MS + 3}, NULL)`,
    );
  } finally {
    duck.close();
  }
  // A live log line: the caller replays it, so history must not count it.
  await mkdir(join(p.live, 'day=2026-01-02'), { recursive: true });
  await writeFile(
    join(p.live, 'day=2026-01-02', '1-1-aaaaaa.jsonl'),
    JSON.stringify({
      user_id: 'u1',
      item_id: 'i3',
      action: 'click',
      time_ms: START + DAY_MS + 9,
      board_id: '',
      source: '',
      request_id: '',
      seq: 1,
    }) + '\n',
  );
}

let world: string;
beforeAll(async () => {
  world = await mkdtemp(join(tmpdir(), 'events-history-'));
  await writeWorld(world);
});
afterAll(async () => {
  await rm(world, { recursive: true, force: true });
});

describe('loadWorldHistory', () => {
  it('builds each user context from the catalog and the parquet history', async () => {
    const history = await loadWorldHistory(world);
    expect(history.worldEndMs).toBe(START + 2 * DAY_MS);
    expect(history.historyEvents).toBe(7);
    const u1 = history.store.context('u1', 100, 99);
    expect(u1).toEqual({
      userId: 'u1',
      recentActions: [
        { itemId: 'i4', type: ActionType.ACTION_TYPE_HIDE, timeMs: START + DAY_MS + 3, boardId: '' },
        { itemId: 'i2', type: ActionType.ACTION_TYPE_SAVE, timeMs: START + DAY_MS + 1, boardId: 'b1' },
        { itemId: 'i1', type: ActionType.ACTION_TYPE_CLICK, timeMs: START + 11, boardId: '' },
      ],
      followedCreators: ['c1', 'c2'],
      followedBoards: ['b2'],
      // Declared t01; t02 from the save (a hide does not count towards a topic).
      topics: ['t01', 't02'],
      locale: 'de-DE',
      requestTimeMs: 99,
      ownBoards: ['b1'],
      blockedCreators: [],
      seenItems: ['i1', 'i2'],
      // The three engaged items (a hide counts: never serve it again).
      engagedFilter: expect.objectContaining({ hashCount: 7, items: 3 }),
    });
    const u3 = history.store.context('u3', 100, 99);
    expect([u3.locale, u3.topics, u3.recentActions, u3.seenItems]).toEqual(['fr-FR', [], [], []]);
    expect(history.store.context('u2', 100, 99).seenItems).toEqual(['i3']);
  });

  it('loads the world as it was at an earlier time', async () => {
    const history = await loadWorldHistory(world, { asOfMs: START + DAY_MS });
    expect(history.historyEvents).toBe(4);
    const u1 = history.store.context('u1', 100, 99);
    expect(u1.recentActions.map((a) => a.itemId)).toEqual(['i1']);
    expect(u1.seenItems).toEqual(['i2', 'i1']);
    // Every follow was made before then; the later ones would be left out.
    expect(u1.followedCreators).toEqual(['c1', 'c2']);
    const early = await loadWorldHistory(world, { asOfMs: START + 2 });
    expect(early.store.context('u1', 100, 99).followedCreators).toEqual(['c2']);
  });
});
