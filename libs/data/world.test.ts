import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DAY_MS,
  DEFAULT_START_MS,
  dayKey,
  readWorldManifest,
  topicId,
  worldPaths,
  writeWorldManifest,
  type WorldManifest,
} from './world.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'feedloom-world-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('world layout', () => {
  it('names days in UTC and starts on 2026-01-01', () => {
    expect(dayKey(DEFAULT_START_MS)).toBe('2026-01-01');
    expect(dayKey(DEFAULT_START_MS + DAY_MS - 1)).toBe('2026-01-01');
    expect(dayKey(DEFAULT_START_MS + DAY_MS)).toBe('2026-01-02');
    expect(topicId(3)).toBe('t03');
    expect(worldPaths('/w').eventDay('2026-01-02')).toBe(path.join('/w', 'events', 'day=2026-01-02', 'part-0.parquet'));
    expect(worldPaths('/w').table('board_items')).toBe(path.join('/w', 'catalog', 'board_items.parquet'));
  });

  it('writes the manifest atomically and reads it back', async () => {
    const manifest: WorldManifest = {
      name: 'w',
      source: 'simulator',
      preset: 'tiny',
      seed: 1,
      startMs: DEFAULT_START_MS,
      days: 2,
      counts: { users: 1, items: 2, creators: 0, boards: 0, events: 3 },
      features: { creators: false, boards: false, topics: false, locales: false },
      hasTruth: false,
      createdAt: new Date().toISOString(),
    };
    await writeWorldManifest(tmp, manifest);
    expect(await readWorldManifest(tmp)).toEqual(manifest);
    expect(fs.readdirSync(tmp)).toEqual(['world.json']); // no temp file left behind
    await expect(readWorldManifest(path.join(tmp, 'nope'))).rejects.toThrow(/no world at .*world\.json/);
    fs.writeFileSync(path.join(tmp, 'world.json'), '{"name": ');
    await expect(readWorldManifest(tmp)).rejects.toThrow(/not valid JSON/);
  });
});
