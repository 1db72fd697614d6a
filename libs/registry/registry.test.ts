import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactIntegrityError, ModelRegistry, verifyArtifacts } from './registry.js';
import { IllegalTransitionError, type ModelState } from './states.js';

let root: string;
let registry: ModelRegistry;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-registry-'));
  registry = new ModelRegistry(root);
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** A fill function writing two small "towers". */
const twoFiles = (tag: string) => async (dir: string) => {
  await fs.writeFile(path.join(dir, 'user_tower.onnx'), `user-${tag}-`.repeat(100));
  await fs.writeFile(path.join(dir, 'item_tower.onnx'), `item-${tag}-`.repeat(200));
  return { dim: 8, metrics: { recall: 0.5 } };
};

describe('ModelRegistry.create', () => {
  it('numbers versions v0001, v0002, … and records model, version, createdAtMs and artifact hashes', async () => {
    const a = await registry.create('two_tower', twoFiles('a'));
    const b = await registry.create('two_tower', twoFiles('b'));
    expect([a.version, b.version]).toEqual(['v0001', 'v0002']);
    expect(b.manifest).toMatchObject({ model: 'two_tower', version: 'v0002', dim: 8, metrics: { recall: 0.5 } });
    expect(b.manifest.createdAtMs).toBeGreaterThan(0);
    expect(Object.keys(b.manifest.artifacts).sort()).toEqual(['item_tower.onnx', 'user_tower.onnx']);
    expect(b.manifest.artifacts['user_tower.onnx'].bytes).toBe('user-b-'.length * 100);
    expect(b.manifest.artifacts['user_tower.onnx'].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(b.state).toBe('training');
    expect(b.dir).toBe(path.join(root, 'two_tower', 'v0002'));
    const onDisk = JSON.parse(await fs.readFile(path.join(b.dir, 'manifest.json'), 'utf8'));
    expect(onDisk.version).toBe('v0002');
    expect((await registry.list('two_tower')).map((v) => v.version)).toEqual(['v0001', 'v0002']);
    expect((await registry.create('mf', twoFiles('c'))).version).toBe('v0001');
    expect(await registry.models()).toEqual(['mf', 'two_tower']);
  });

  it('registers nothing and leaves no temp folder when fill throws or writes nothing', async () => {
    await expect(
      registry.create('two_tower', async () => {
        throw new Error('trainer crashed');
      }),
    ).rejects.toThrow('trainer crashed');
    await expect(registry.create('two_tower', async () => ({ dim: 8 }))).rejects.toThrow(/no artifacts/);
    await expect(
      registry.create('two_tower', async (dir) => {
        await fs.writeFile(path.join(dir, 'user_tower.onnx'), '');
        return {};
      }),
    ).rejects.toThrow(/user_tower.onnx is empty/);
    expect(await registry.list('two_tower')).toEqual([]);
    expect(await fs.readdir(path.join(root, 'two_tower'))).toEqual([]);
  });

  it('is atomic: while fill runs no version is visible, and concurrent creates get distinct versions', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = registry.create('two_tower', async (dir) => {
      await fs.writeFile(path.join(dir, 'user_tower.onnx'), 'half');
      await gate;
      await fs.appendFile(path.join(dir, 'user_tower.onnx'), '-and-the-rest');
      return {};
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await registry.list('two_tower')).toEqual([]);
    expect(await registry.latest('two_tower')).toBeUndefined();
    const others = await Promise.all([1, 2, 3].map((i) => registry.create('two_tower', twoFiles(String(i)))));
    release();
    const slowInfo = await slow;
    const versions = [...others.map((o) => o.version), slowInfo.version].sort();
    expect(versions).toEqual(['v0001', 'v0002', 'v0003', 'v0004']);
    expect(slowInfo.manifest.artifacts['user_tower.onnx'].bytes).toBe('half-and-the-rest'.length);
    expect(await fs.readdir(path.join(root, 'two_tower'))).toEqual(['v0001', 'v0002', 'v0003', 'v0004']);
  });

  it('parses a manifest once while the file is unchanged, and again once it changes; the state is read every time', async () => {
    const { dir } = await registry.create('two_tower', twoFiles('a'));
    const first = await registry.get('two_tower', 'v0001');
    await registry.setState('two_tower', 'v0001', 'trained');
    const again = await registry.get('two_tower', 'v0001');
    expect(again.manifest).toBe(first.manifest);
    expect(again.state).toBe('trained');
    // Rewritten (another size): read again.
    const file = path.join(dir, 'manifest.json');
    await fs.writeFile(file, JSON.stringify({ ...first.manifest, dim: 16 }, null, 2));
    const changed = await registry.get('two_tower', 'v0001');
    expect(changed.manifest).not.toBe(first.manifest);
    expect(changed.manifest).toMatchObject({ dim: 16 });
    // A manifest that went missing is reported as before, not served from memory.
    await fs.rm(file);
    await expect(registry.get('two_tower', 'v0001')).rejects.toThrow(/manifest\.json does not exist/);
  });

  it('gets a version that does not exist with a message naming it', async () => {
    await expect(registry.get('two_tower', 'v0007')).rejects.toThrow(/no version two_tower\/v0007/);
    expect(() => registry.dir('two_tower', 'latest')).toThrow(/not a registry version/);
    expect(() => registry.dir('../etc', 'v0001')).toThrow(/model name/);
  });
});

describe('state machine', () => {
  it('walks training → trained → validated → published → serving → retired, recording every step', async () => {
    const { version } = await registry.create('two_tower', twoFiles('a'));
    for (const state of ['trained', 'validated', 'published', 'serving', 'retired'] as ModelState[]) {
      await registry.setState('two_tower', version, state, `to ${state}`);
    }
    const info = await registry.get('two_tower', version);
    expect(info.state).toBe('retired');
    expect(info.history.map((h) => h.state)).toEqual([
      'training',
      'trained',
      'validated',
      'published',
      'serving',
      'retired',
    ]);
    expect(info.history.at(-1)!.note).toBe('to retired');
    expect(info.history.every((h, i) => i === 0 || h.atMs >= info.history[i - 1].atMs)).toBe(true);
  });

  it('allows rollback and roll-forward: serving → rolled_back → serving', async () => {
    const { version } = await registry.create('two_tower', twoFiles('a'));
    for (const state of ['trained', 'validated', 'published', 'serving', 'rolled_back', 'serving'] as ModelState[]) {
      await registry.setState('two_tower', version, state);
    }
    expect((await registry.get('two_tower', version)).state).toBe('serving');
  });

  it('refuses an illegal transition, naming both states, and leaves the state as it was', async () => {
    const { version } = await registry.create('two_tower', twoFiles('a'));
    await registry.setState('two_tower', version, 'trained');
    const err = await registry.setState('two_tower', version, 'serving').catch((e) => e);
    expect(err).toBeInstanceOf(IllegalTransitionError);
    expect(err.message).toContain('trained → serving');
    expect(err.message).toContain('validated, rejected');
    await registry.setState('two_tower', version, 'rejected');
    await expect(registry.setState('two_tower', version, 'validated')).rejects.toThrow(/rejected → validated.*final/);
    expect((await registry.get('two_tower', version)).state).toBe('rejected');
  });

  it('serializes concurrent state changes: exactly one of two racing transitions from the same state wins', async () => {
    const { version } = await registry.create('two_tower', twoFiles('a'));
    await registry.setState('two_tower', version, 'trained');
    const results = await Promise.allSettled([
      registry.setState('two_tower', version, 'validated'),
      registry.setState('two_tower', version, 'rejected'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const info = await registry.get('two_tower', version);
    expect(info.history.map((h) => h.state)).toEqual(['training', 'trained', info.state]);
  });

  it('latest() filters by state', async () => {
    for (let i = 0; i < 3; i++) await registry.create('two_tower', twoFiles(String(i)));
    await registry.setState('two_tower', 'v0002', 'trained');
    expect((await registry.latest('two_tower'))!.version).toBe('v0003');
    expect((await registry.latest('two_tower', ['trained', 'validated']))!.version).toBe('v0002');
    expect(await registry.latest('two_tower', ['serving'])).toBeUndefined();
    expect(await registry.latest('nothing_here')).toBeUndefined();
  });
});

describe('prune', () => {
  it('keeps the newest N and never deletes a published or serving version', async () => {
    for (let i = 0; i < 6; i++) await registry.create('two_tower', twoFiles(String(i)));
    const walk = async (v: string, states: ModelState[]) => {
      for (const s of states) await registry.setState('two_tower', v, s);
    };
    await walk('v0001', ['trained', 'validated', 'published', 'serving']);
    await walk('v0002', ['trained', 'validated', 'published']);
    await walk('v0003', ['trained', 'rejected']);
    const deleted = await registry.prune('two_tower', 2);
    expect(deleted).toEqual(['v0003', 'v0004']);
    expect((await registry.list('two_tower')).map((v) => v.version)).toEqual(['v0001', 'v0002', 'v0005', 'v0006']);
    // Numbering continues after pruned versions: a version number is never reused.
    expect((await registry.create('two_tower', twoFiles('x'))).version).toBe('v0007');
  });
});

describe('artifact verification', () => {
  it('verifyArtifacts passes an intact version and catches a truncated or altered ONNX file', async () => {
    const info = await registry.create('two_tower', twoFiles('a'));
    await expect(verifyArtifacts(info)).resolves.toBeUndefined();
    await expect(registry.verify('two_tower', info.version)).resolves.toMatchObject({ version: 'v0001' });

    // Same size, different bytes: only the hash can tell.
    const file = path.join(info.dir, 'item_tower.onnx');
    const original = await fs.readFile(file);
    const altered = Buffer.from(original);
    altered[10] ^= 0xff;
    await fs.writeFile(file, altered);
    await expect(verifyArtifacts(info)).rejects.toThrow(/item_tower.onnx: sha256 .* differs/);

    // Truncated: get() already refuses it, by size.
    await fs.writeFile(file, original.subarray(0, original.length - 7));
    const err = await verifyArtifacts(info).catch((e) => e);
    expect(err).toBeInstanceOf(ArtifactIntegrityError);
    expect(err.message).toMatch(/item_tower.onnx: \d+ bytes, the manifest records \d+/);
    await expect(registry.get('two_tower', info.version)).rejects.toThrow(/item_tower.onnx/);

    await fs.rm(file);
    await expect(registry.get('two_tower', info.version)).rejects.toThrow(/item_tower.onnx: missing/);
  });
});
