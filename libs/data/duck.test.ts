import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendColumns, eventsView, openDuck, queryRows, sqlString, type Duck } from './duck.js';
import { TABLE_COLUMNS, worldPaths } from './world.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'feedloom-duck-'));
let duck: Duck;
beforeAll(async () => {
  duck = await openDuck();
});
afterAll(() => {
  duck.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('queryRows', () => {
  it('returns plain objects with BIGINTs as numbers, also inside lists and structs', async () => {
    const rows = await queryRows(
      duck.conn,
      `SELECT 1767225600000::BIGINT AS t, [1::BIGINT, 2::BIGINT] AS l, {'n': 3::BIGINT, 's': 'x'} AS st, NULL::VARCHAR AS z, 0.5::DOUBLE AS d`,
    );
    expect(rows).toEqual([{ t: 1767225600000, l: [1, 2], st: { n: 3, s: 'x' }, z: null, d: 0.5 }]);
  });

  it('appends typed-array columns through the appender', async () => {
    await appendColumns(
      duck.conn,
      'appended',
      [
        { name: 'a', type: 'INTEGER', values: Int32Array.from({ length: 5000 }, (_, i) => i) },
        { name: 'b', type: 'DOUBLE', values: Float64Array.from({ length: 5000 }, (_, i) => i / 2) },
        { name: 'c', type: 'VARCHAR', values: Array.from({ length: 5000 }, (_, i) => (i % 2 ? `v${i}` : null)) },
      ],
      5000,
    );
    const [r] = await queryRows(
      duck.conn,
      'SELECT count(*) AS n, sum(a) AS sa, sum(b) AS sb, count(c) AS nc, max(c) AS mc FROM appended',
    );
    expect(r).toEqual({ n: 5000, sa: (4999 * 5000) / 2, sb: (4999 * 5000) / 4, nc: 2500, mc: 'v999' });
  });

  it('quotes SQL strings', async () => {
    const [r] = await queryRows(duck.conn, `SELECT ${sqlString("it's")} AS s`);
    expect(r.s).toBe("it's");
  });
});

describe('eventsView', () => {
  it('gives an empty world every view, with the contract columns', async () => {
    const dir = path.join(tmp, 'empty');
    fs.mkdirSync(dir);
    await eventsView(duck.conn, dir);
    for (const [table, columns] of Object.entries(TABLE_COLUMNS)) {
      const described = await queryRows<{ column_name: string; column_type: string }>(duck.conn, `DESCRIBE ${table}`);
      expect(described.map((c) => [c.column_name, c.column_type])).toEqual(Object.entries(columns));
      expect(await queryRows(duck.conn, `SELECT * FROM ${table}`)).toEqual([]);
    }
  });

  it('unions Parquet partitions with live JSONL, cuts at beforeMs, and skips a half-written live line', async () => {
    const dir = path.join(tmp, 'mixed');
    const paths = worldPaths(dir);
    fs.mkdirSync(path.dirname(paths.eventDay('2026-01-01')), { recursive: true });
    await duck.conn
      .run(`COPY (SELECT 'u1' AS user_id, 'i' || range AS item_id, 'click' AS action, (1767225600000 + range * 1000)::BIGINT AS time_ms,
        NULL::VARCHAR AS board_id, 's1' AS session_id, range::INTEGER AS position, 'popular' AS source FROM range(3))
      TO ${sqlString(paths.eventDay('2026-01-01'))} (FORMAT PARQUET)`);
    fs.mkdirSync(path.join(paths.live, 'day=2026-01-02'), { recursive: true });
    const live = [
      {
        user_id: 'u2',
        item_id: 'i9',
        action: 'save',
        time_ms: 1767312000000,
        board_id: 'b1',
        source: 'two_tower',
        request_id: 'r1',
        seq: 1,
      },
      {
        user_id: 'u2',
        item_id: 'i8',
        action: 'click',
        time_ms: 1767312005000,
        board_id: '',
        source: '',
        request_id: '',
        seq: 2,
      },
    ];
    fs.writeFileSync(
      path.join(paths.live, 'day=2026-01-02', 'events-0.jsonl'),
      live.map((e) => JSON.stringify(e)).join('\n') + '\n{"user_id": "u3", "item',
    );

    await eventsView(duck.conn, dir);
    const all = await queryRows(
      duck.conn,
      'SELECT user_id, item_id, action, time_ms, board_id, session_id, position, source FROM events ORDER BY time_ms',
    );
    expect(all).toHaveLength(5);
    expect(all[3]).toEqual({
      user_id: 'u2',
      item_id: 'i9',
      action: 'save',
      time_ms: 1767312000000,
      board_id: 'b1',
      session_id: 'r1',
      position: null,
      source: 'two_tower',
    });
    // The Events service writes '' for "no board / no source"; the view says NULL like the Parquet log.
    expect(all[4]).toEqual({
      user_id: 'u2',
      item_id: 'i8',
      action: 'click',
      time_ms: 1767312005000,
      board_id: null,
      session_id: null,
      position: null,
      source: null,
    });

    await eventsView(duck.conn, dir, { beforeMs: 1767225601000 });
    expect(await queryRows(duck.conn, 'SELECT item_id FROM events')).toEqual([{ item_id: 'i0' }]);
  });
});
