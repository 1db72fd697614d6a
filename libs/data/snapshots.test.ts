import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDuck, sqlString } from './duck.js';
import {
  currentSnapshotVersion,
  listSnapshotVersions,
  publishRows,
  publishSnapshot,
  pruneSnapshots,
  readSnapshot,
  snapshotVersion,
} from './snapshots.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'feedloom-snapshots-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('snapshot versions', () => {
  it('sort lexically by time and stay unique within one millisecond', () => {
    const at = new Date('2026-11-25T18:42:33.123Z');
    const a = snapshotVersion(at);
    const b = snapshotVersion(at);
    const c = snapshotVersion(new Date('2026-11-25T18:42:33.124Z'));
    expect(a).toBe('v20261125T184233123Z');
    expect(b).toBe('v20261125T184233123Z-001');
    expect([c, b, a].sort()).toEqual([a, b, c]);
  });
});

describe('publish and read', () => {
  it('publishes rows written by DuckDB and reads them back with their manifest', async () => {
    const duck = await openDuck();
    try {
      const published = await publishSnapshot(
        root,
        'squares',
        async (tmpDir) => {
          await duck.conn.run(
            `COPY (SELECT 'i' || range AS item_id, range * range AS score FROM range(5)) TO ${sqlString(path.join(tmpDir, 'rows.json'))} (FORMAT JSON, ARRAY true)`,
          );
        },
        { asOfMs: 1234, job: 'test' },
      );
      expect(await currentSnapshotVersion(root, 'squares')).toBe(published.version);
      const snap = await readSnapshot<{ item_id: string; score: number }>(root, 'squares');
      expect(snap.version).toBe(published.version);
      expect(snap.rows).toEqual([0, 1, 2, 3, 4].map((i) => ({ item_id: `i${i}`, score: i * i })));
      expect(snap.manifest).toMatchObject({
        name: 'squares',
        version: published.version,
        asOfMs: 1234,
        rows: 5,
        job: 'test',
      });
      expect(Number.isNaN(Date.parse(snap.manifest.builtAt))).toBe(false);
    } finally {
      duck.close();
    }
  });

  it('switches CURRENT to each newer version and can still read an older one', async () => {
    const first = await publishRows(root, 'counter', [{ n: 1 }]);
    const second = await publishRows(root, 'counter', [{ n: 2 }]);
    expect(second.version > first.version).toBe(true);
    expect((await readSnapshot(root, 'counter')).rows).toEqual([{ n: 2 }]);
    expect((await readSnapshot(root, 'counter', first.version)).rows).toEqual([{ n: 1 }]);
    expect(await listSnapshotVersions(root, 'counter')).toEqual([first.version, second.version]);
  });

  it('leaves no trace when the fill fails or writes something that is not a JSON array', async () => {
    const before = await publishRows(root, 'fragile', [{ ok: true }]);
    await expect(
      publishSnapshot(root, 'fragile', async () => {
        throw new Error('job crashed');
      }),
    ).rejects.toThrow('job crashed');
    await expect(
      publishSnapshot(root, 'fragile', async (tmpDir) =>
        fs.promises.writeFile(path.join(tmpDir, 'rows.json'), '[{"half": '),
      ),
    ).rejects.toThrow(/not valid JSON/);
    await expect(
      publishSnapshot(root, 'fragile', async (tmpDir) =>
        fs.promises.writeFile(path.join(tmpDir, 'rows.json'), '{"a": 1}'),
      ),
    ).rejects.toThrow(/JSON array/);
    expect(await currentSnapshotVersion(root, 'fragile')).toBe(before.version);
    expect(fs.readdirSync(path.join(root, 'fragile')).sort()).toEqual(['CURRENT', before.version]);
  });

  it('never lets a reader see a half-built snapshot while a publish is in flight', async () => {
    await publishRows(root, 'busy', [{ v: 0 }]);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pending = publishSnapshot(root, 'busy', async (tmpDir) => {
      await fs.promises.writeFile(path.join(tmpDir, 'rows.json'), '[{"v": 1}');
      await gate; // rows.json is incomplete right now
      await fs.promises.appendFile(path.join(tmpDir, 'rows.json'), ']');
      return { rows: 1 };
    });
    await new Promise((r) => setTimeout(r, 20));
    expect((await readSnapshot(root, 'busy')).rows).toEqual([{ v: 0 }]);
    release();
    await pending;
    expect((await readSnapshot(root, 'busy')).rows).toEqual([{ v: 1 }]);
  });

  it('gives versions to concurrent publishes that are unique and ordered', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => publishRows(root, 'race', [{ i }])));
    const versions = results.map((r) => r.version);
    expect(new Set(versions).size).toBe(5);
    expect(await listSnapshotVersions(root, 'race')).toEqual([...versions].sort());
  });

  it('reports a missing or corrupt snapshot naming the file', async () => {
    await expect(readSnapshot(root, 'absent')).rejects.toThrow(
      new RegExp(`no snapshot 'absent'.*${path.join('absent', 'CURRENT')}`),
    );
    const { version } = await publishRows(root, 'broken', [{ a: 1 }]);
    const rowsFile = path.join(root, 'broken', version, 'rows.json');
    fs.writeFileSync(rowsFile, '[{"a": 1}, {"a"');
    await expect(readSnapshot(root, 'broken')).rejects.toThrow(`snapshot file ${rowsFile} is not valid JSON`);
    await expect(readSnapshot(root, 'broken', 'v20000101T000000000Z')).rejects.toThrow(
      /cannot read snapshot file .*manifest\.json/,
    );
  });

  it('prunes old versions but keeps the newest and the one CURRENT names', async () => {
    const versions: string[] = [];
    for (let i = 0; i < 4; i++) versions.push((await publishRows(root, 'pruned', [{ i }])).version);
    // Point CURRENT back at the oldest, as a rollback would.
    fs.writeFileSync(path.join(root, 'pruned', 'CURRENT'), versions[0] + '\n');
    const deleted = await pruneSnapshots(root, 'pruned', 2);
    expect(deleted).toEqual([versions[1]]);
    expect(await listSnapshotVersions(root, 'pruned')).toEqual([versions[0], versions[2], versions[3]]);
    expect((await readSnapshot(root, 'pruned')).rows).toEqual([{ i: 0 }]);
  });
});
