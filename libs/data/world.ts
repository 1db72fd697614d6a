// The world on disk: its layout, its manifest and the column contract of every table.
import fs from 'node:fs/promises';
import path from 'node:path';

export const DAY_MS = 86_400_000;
/** Simulated worlds start at 2026-01-01T00:00:00Z unless told otherwise. */
export const DEFAULT_START_MS = Date.UTC(2026, 0, 1);

export const LOCALES = ['en-US', 'de-DE', 'fr-FR', 'ja-JP', 'pt-BR'] as const;
export const ACTIONS = ['impression', 'click', 'save', 'hide'] as const;
export type Action = (typeof ACTIONS)[number];

export interface WorldManifest {
  name: string;
  source: 'simulator' | 'import';
  preset?: string;
  seed?: number;
  /** Start of the first day (UTC midnight), ms since epoch. */
  startMs: number;
  days: number;
  counts: { users: number; items: number; creators: number; boards: number; events: number };
  features: { creators: boolean; boards: boolean; topics: boolean; locales: boolean };
  hasTruth: boolean;
  createdAt: string;
}

/**
 * Column contract of the catalog tables and the event log (DuckDB types). Every reader selects
 * these columns by name, and an absent table is stood in for by an empty one with these columns.
 * `creators.user_id` is the user account a creator curates boards and saves with (null if none).
 */
export const TABLE_COLUMNS = {
  users: { user_id: 'VARCHAR', locale: 'VARCHAR', topics: 'VARCHAR[]', signup_ms: 'BIGINT' },
  items: { item_id: 'VARCHAR', creator_id: 'VARCHAR', topic: 'VARCHAR', locale: 'VARCHAR', created_ms: 'BIGINT' },
  creators: { creator_id: 'VARCHAR', topic: 'VARCHAR', locale: 'VARCHAR', user_id: 'VARCHAR' },
  boards: { board_id: 'VARCHAR', owner_user_id: 'VARCHAR', topic: 'VARCHAR' },
  board_items: { board_id: 'VARCHAR', item_id: 'VARCHAR', added_ms: 'BIGINT' },
  follows: { user_id: 'VARCHAR', target_type: 'VARCHAR', target_id: 'VARCHAR', time_ms: 'BIGINT' },
  events: {
    user_id: 'VARCHAR',
    item_id: 'VARCHAR',
    action: 'VARCHAR',
    time_ms: 'BIGINT',
    board_id: 'VARCHAR',
    session_id: 'VARCHAR',
    position: 'INTEGER',
    source: 'VARCHAR',
  },
} as const;

export type CatalogTable = Exclude<keyof typeof TABLE_COLUMNS, 'events'>;
export const CATALOG_TABLES: CatalogTable[] = ['users', 'items', 'creators', 'boards', 'board_items', 'follows'];

/** The column that says when a catalog row came to be, used to hide rows from the future. */
export const CATALOG_TIME_COLUMN: Partial<Record<CatalogTable, string>> = {
  users: 'signup_ms',
  items: 'created_ms',
  board_items: 'added_ms',
  follows: 'time_ms',
};

export function worldPaths(dir: string) {
  const root = path.resolve(dir);
  const catalog = path.join(root, 'catalog');
  const events = path.join(root, 'events');
  return {
    root,
    manifest: path.join(root, 'world.json'),
    catalog,
    table: (name: CatalogTable) => path.join(catalog, `${name}.parquet`),
    events,
    eventDay: (day: string) => path.join(events, `day=${day}`, 'part-0.parquet'),
    live: path.join(events, 'live'),
    /** Held by the one process that appends to the live log (the events service), pid and host inside. */
    writerLock: path.join(events, 'writer.lock'),
    truth: path.join(root, 'truth'),
    snapshots: path.join(root, 'snapshots'),
  };
}

/** 'YYYY-MM-DD' of the UTC day holding ms. */
export function dayKey(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

export const userId = (i: number) => `u${i}`;
export const itemId = (i: number) => `i${i}`;
export const creatorId = (i: number) => `c${i}`;
export const boardId = (i: number) => `b${i}`;
export const topicId = (k: number) => `t${String(k).padStart(2, '0')}`;

export async function readWorldManifest(dir: string): Promise<WorldManifest> {
  const file = worldPaths(dir).manifest;
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`no world at ${path.resolve(dir)}: cannot read ${file} (${(err as Error).message})`);
  }
  try {
    return JSON.parse(text) as WorldManifest;
  } catch (err) {
    throw new Error(`world manifest ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Writes world.json atomically: a reader sees the old manifest or the new one, never half of one. */
export async function writeWorldManifest(dir: string, manifest: WorldManifest): Promise<void> {
  const file = worldPaths(dir).manifest;
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, JSON.stringify(manifest, null, 2) + '\n');
}

export async function writeFileAtomic(file: string, content: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  await fs.writeFile(tmp, content);
  await fs.rename(tmp, file);
}

/** Readiness check for "is there a world here?" without throwing. */
export async function worldExists(dir: string): Promise<boolean> {
  try {
    await fs.access(worldPaths(dir).manifest);
    return true;
  } catch {
    return false;
  }
}
