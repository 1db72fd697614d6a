import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { compactedParquet, compactingName } from '../../libs/data/live-files.js';
import { DAY_MS, worldPaths } from '../../libs/data/world.js';
import { LiveLog, type NewEvent } from './live-log.js';

const DAY1 = Date.UTC(2026, 0, 5);
const event = (userId: string, itemId: string, timeMs = DAY1 + 1000): NewEvent => ({
  userId,
  itemId,
  action: 'click',
  timeMs,
  boardId: '',
  source: 'popular',
  requestId: 'r1',
});

let world: string;
beforeEach(async () => {
  world = await mkdtemp(join(tmpdir(), 'events-live-log-'));
});
afterEach(async () => {
  await rm(world, { recursive: true, force: true });
});

describe('LiveLog', () => {
  it('writes JSON lines per day and replays them, with the sequence continuing after a restart', async () => {
    const first = await LiveLog.open(world);
    expect(first.replay).toEqual({ events: [], problems: [], files: 0, source: '0 files' });
    const a = await first.log.append([event('u1', 'i1'), event('u2', 'i2', DAY1 + DAY_MS + 5)]);
    expect(a.map((e) => e.seq)).toEqual([1, 2]);
    await first.log.close();

    const live = worldPaths(world).live;
    expect((await readdir(live)).sort()).toEqual(['day=2026-01-05', 'day=2026-01-06']);
    const [file] = await readdir(join(live, 'day=2026-01-05'));
    expect(JSON.parse(await readFile(join(live, 'day=2026-01-05', file), 'utf8'))).toEqual({
      user_id: 'u1',
      item_id: 'i1',
      action: 'click',
      time_ms: DAY1 + 1000,
      board_id: '',
      source: 'popular',
      request_id: 'r1',
      seq: 1,
    });

    const second = await LiveLog.open(world);
    expect(second.replay.events).toEqual(a);
    expect(second.log.lastSequence).toBe(2);
    const b = await second.log.append([event('u1', 'i3')]);
    expect(b[0].seq).toBe(3);
    await second.log.close();
    // One file per process start per day.
    expect(await readdir(join(live, 'day=2026-01-05'))).toHaveLength(2);
  });

  it('group-commits concurrent appends: fewer writes than callers, every event acknowledged once', async () => {
    const { log } = await LiveLog.open(world);
    const calls = Array.from({ length: 200 }, (_, i) => log.append([event(`u${i}`, 'i1'), event(`u${i}`, 'i2')]));
    const results = await Promise.all(calls);
    const seqs = results.flat().map((e) => e.seq);
    expect(new Set(seqs).size).toBe(400);
    expect(Math.max(...seqs)).toBe(400);
    // Each call's events are contiguous and in order.
    for (const r of results) expect(r[1].seq).toBe(r[0].seq + 1);
    expect(log.commits).toBeLessThan(200);
    await log.close();
    expect((await LiveLog.open(world)).replay.events).toHaveLength(400);
  });

  it('skips and reports a torn last line and a corrupt line, keeping everything else', async () => {
    const { log } = await LiveLog.open(world);
    await log.append([event('u1', 'i1'), event('u1', 'i2')]);
    await log.close();
    const dayDir = join(worldPaths(world).live, 'day=2026-01-05');
    const [file] = await readdir(dayDir);
    // A crash mid-write leaves a line without its newline.
    const torn = '{"user_id":"u1","item_id":"i3","action":"cli';
    await appendFile(join(dayDir, file), torn);
    await writeFile(
      join(dayDir, '0-older.jsonl'),
      'not json\n' +
        JSON.stringify({ user_id: 'u9', item_id: 'i9', action: 'save', time_ms: DAY1, board_id: 'b1', seq: 7 }) +
        '\n',
    );

    const { log: reopened, replay } = await LiveLog.open(world);
    expect(replay.events.map((e) => [e.userId, e.itemId, e.seq])).toEqual([
      ['u1', 'i1', 1],
      ['u1', 'i2', 2],
      ['u9', 'i9', 7],
    ]);
    expect(replay.problems).toEqual([
      { file: join(dayDir, '0-older.jsonl'), line: 1, kind: 'corrupt', detail: 'not valid JSON' },
      { file: join(dayDir, file), line: 3, kind: 'torn', detail: `unfinished last line of ${torn.length} bytes` },
    ]);
    expect(reopened.lastSequence).toBe(7);
    await reopened.close();
  });

  it('refuses appends once closed', async () => {
    const { log } = await LiveLog.open(world);
    await log.close();
    await expect(log.append([event('u1', 'i1')])).rejects.toThrow(/shutting down/);
  });

  it('writes to a new file once compaction renamed the day file away, and replay skips what a Parquet file shadows', async () => {
    const { log } = await LiveLog.open(world);
    await log.append([event('u1', 'i1')]);
    const dir = join(worldPaths(world).live, 'day=2026-01-05');
    const [first] = await readdir(dir);
    const renamed = compactingName(join(dir, first), 'abc');
    await rename(join(dir, first), renamed);
    await log.append([event('u2', 'i2')]);
    await log.close();
    // The second event went to a new file under the old name, not into the renamed one.
    expect((await readdir(dir)).sort()).toEqual([first, basename(renamed)].sort());
    expect((await readFile(renamed, 'utf8')).split('\n').filter(Boolean)).toHaveLength(1);

    expect((await LiveLog.open(world)).replay.events.map((e) => e.userId)).toEqual(['u1', 'u2']);
    // Once the Parquet file of that compaction exists, the renamed file's events are read from it.
    await mkdir(join(worldPaths(world).events, 'day=2026-01-05'), { recursive: true });
    await writeFile(compactedParquet(worldPaths(world).events, '2026-01-05', 'abc'), '');
    const again = await LiveLog.open(world, 7);
    expect(again.replay.events.map((e) => e.userId)).toEqual(['u2']);
    // Sequence numbers continue after the compacted ones.
    expect(again.log.lastSequence).toBe(7);
    await again.log.close();
  });
});
