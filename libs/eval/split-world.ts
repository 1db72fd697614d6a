// The training world of a per-user split: the same catalog, and each user's events up to their
// held-out last share. One global as-of time cannot say "the last 20% of every user", so the eval
// writes this derived world (source 'import') under <world>/eval/<split>/world and prepares and
// serves it like any other. It is the eval's own data: rebuilt when the source world or the split
// changes, reused otherwise (with the snapshots and models prepared in it). The ranker's training
// on an imported log replays the blender on the same world (services/offline/trainer/candidate-replay.ts).
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import { join } from 'node:path';
import { appendColumns, eventsView, openDuck, queryRows, sqlString } from '../data/duck.js';
import {
  CATALOG_TABLES,
  DAY_MS,
  TABLE_COLUMNS,
  readWorldManifest,
  worldPaths,
  writeFileAtomic,
  writeWorldManifest,
} from '../data/world.js';
import { splitName, splitUserItems, type UserLastSplit } from './user-last-split.js';

/** What counts as an interaction: a positive engagement (an imported rating is a click or a save). */
const INTERACTION = `action IN ('click', 'save')`;

export interface SplitWorld {
  /** The training world's directory. */
  dir: string;
  /** Each user's training items, oldest first. */
  train: Map<string, string[]>;
  /** Each evaluable user's held-out items (every user here also has training items). */
  heldOut: Map<string, Set<string>>;
  /** Each evaluable user's first held-out interaction's time: their history in the training world ends there. */
  cutMs: Map<string, number>;
  /** Items in the source world's catalog: the denominator of coverage. */
  catalogItems: number;
  /** True when an earlier build of the same split of the same source was reused. */
  reused: boolean;
}

export const splitDirOf = (worldDir: string, split: UserLastSplit) =>
  join(worldDir, 'eval', splitName(split).replace(':', '-'));

export async function buildSplitWorld(
  worldDir: string,
  split: UserLastSplit,
  log: (line: string) => void,
): Promise<SplitWorld> {
  const source = await readWorldManifest(worldDir);
  const splitDir = splitDirOf(worldDir, split);
  const dir = join(splitDir, 'world');
  const marker = join(dir, 'split.json');
  const duck = await openDuck();
  try {
    const { conn } = duck;
    await eventsView(conn, worldDir);
    // Each (user, item) counts once, at its first interaction; ties in time are broken by item id.
    // Users in id order, so that the baselines' matrices (and their ties) are the same on every run.
    const rows = await queryRows<{ user_id: string; items: string[]; times: number[] }>(
      conn,
      `SELECT user_id, list(item_id ORDER BY t, item_id) AS items, list(t ORDER BY t, item_id) AS times
       FROM (SELECT user_id, item_id, min(time_ms) AS t FROM events WHERE ${INTERACTION} GROUP BY user_id, item_id)
       GROUP BY user_id ORDER BY user_id`,
    );
    const [{ items: catalogItems }] = await queryRows<{ items: number }>(conn, 'SELECT count(*) AS items FROM items');
    const train = new Map<string, string[]>();
    const heldOut = new Map<string, Set<string>>();
    const cutMs = new Map<string, number>();
    const cut = { user: [] as string[], time: [] as number[], item: [] as string[] };
    for (const row of rows) {
      const parts = splitUserItems(row.items, split.fraction);
      train.set(row.user_id, parts.train);
      if (parts.heldOut.length === 0) continue;
      heldOut.set(row.user_id, new Set(parts.heldOut));
      // The user's history ends just before their first held-out interaction.
      cut.user.push(row.user_id);
      cut.time.push(row.times[parts.train.length]);
      cutMs.set(row.user_id, Number(row.times[parts.train.length]));
      cut.item.push(row.items[parts.train.length]);
    }

    const [stats] = await queryRows<{ n: number; last: number | null }>(
      conn,
      'SELECT count(*) AS n, max(time_ms) AS last FROM events',
    );
    const fingerprint = JSON.stringify({
      split: splitName(split),
      source: { name: source.name, createdAt: source.createdAt, events: stats.n, last: stats.last },
    });
    if (existsSync(marker) && readFileSync(marker, 'utf8') === fingerprint) {
      log(`reusing the training part of ${splitName(split)} in ${dir}`);
      return { dir, train, heldOut, cutMs, catalogItems, reused: true };
    }

    log(
      `writing the training part of ${splitName(split)} (${heldOut.size} users hold out their last ${100 * split.fraction}%) to ${dir} …`,
    );
    // Everything under splitDir was written by the eval: an outdated build goes whole.
    if (existsSync(splitDir)) {
      const old = `${splitDir}.old-${process.pid}`;
      renameSync(splitDir, old);
      rmSync(old, { recursive: true, force: true });
    }
    const paths = worldPaths(dir);
    await fs.mkdir(paths.events, { recursive: true });
    await fs.mkdir(paths.catalog, { recursive: true });
    await appendColumns(
      conn,
      'cut',
      [
        { name: 'user_id', type: 'VARCHAR', values: cut.user },
        { name: 'cut_time', type: 'DOUBLE', values: cut.time },
        { name: 'cut_item', type: 'VARCHAR', values: cut.item },
      ],
      cut.user.length,
    );
    const cols = Object.keys(TABLE_COLUMNS.events)
      .map((c) => `e.${c}`)
      .join(', ');
    await conn.run(`
      CREATE TABLE kept AS
      SELECT ${cols}, strftime(DATE '1970-01-01' + CAST(e.time_ms // ${DAY_MS} AS INTEGER), '%Y-%m-%d') AS day
      FROM events e LEFT JOIN cut c ON c.user_id = e.user_id
      WHERE c.user_id IS NULL OR e.time_ms < c.cut_time OR (e.time_ms = c.cut_time AND e.item_id < c.cut_item)`);
    await conn.run(`
      COPY (SELECT * FROM kept ORDER BY time_ms)
      TO ${sqlString(paths.events)} (FORMAT PARQUET, PARTITION_BY (day), FILENAME_PATTERN 'part-{i}', OVERWRITE_OR_IGNORE true)`);
    for (const table of CATALOG_TABLES)
      await conn.run(`COPY (SELECT * FROM ${table}) TO ${sqlString(paths.table(table))} (FORMAT PARQUET)`);

    const [kept] = await queryRows<{ n: number; first: number; last: number }>(
      conn,
      'SELECT count(*) AS n, min(time_ms) AS first, max(time_ms) AS last FROM kept',
    );
    const firstDay = Math.floor(kept.first / DAY_MS);
    await writeWorldManifest(dir, {
      name: `${source.name} (training part of ${splitName(split)})`,
      source: 'import',
      startMs: firstDay * DAY_MS,
      days: Math.floor(kept.last / DAY_MS) - firstDay + 1,
      counts: { ...source.counts, events: kept.n },
      features: source.features,
      hasTruth: false,
      createdAt: new Date().toISOString(),
    });
    // Written last: a build cut short is rebuilt.
    await writeFileAtomic(marker, fingerprint);
    return { dir, train, heldOut, cutMs, catalogItems, reused: false };
  } finally {
    duck.close();
  }
}
