// Shared by the learned-retrieval integration tests (test/learned-*.test.ts): really trained
// two-tower versions on the tiny world, trained once per trainer-code version and cached under the
// OS temp directory (like the test world), then copied into each test's own registry.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainTwoTower } from '../libs/training/train-two-tower.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Few epochs: the tests need two different, working models, not the best ones. */
export const TRAINING = { epochs: 3, batch: 128 };

function codeHash(): string {
  const hash = createHash('sha1');
  const files = [join(ROOT, 'services/offline/trainer/two_tower.py')];
  for (const dir of ['libs/training', 'libs/features', 'libs/registry']) {
    for (const f of readdirSync(join(ROOT, dir)).sort()) if (f.endsWith('.ts') && !f.endsWith('.test.ts')) files.push(join(ROOT, dir, f));
  }
  for (const f of files) hash.update(basename(f)).update(readFileSync(f));
  return hash.digest('hex').slice(0, 12);
}

/**
 * A fresh registry holding two_tower v0001, v0002, … trained on worldDir with the given seeds
 * (state `trained`), copied from the cache. The caller owns it (indexing writes into it).
 */
export async function trainedRegistry(worldDir: string, seeds: number[] = [1, 2]): Promise<string> {
  const key = `${basename(worldDir)}-${codeHash()}-s${seeds.join('_')}-e${TRAINING.epochs}`;
  const cached = join(tmpdir(), 'feedloom-test-models', key);
  if (!existsSync(join(cached, 'two_tower'))) {
    const aside = `${cached}.building-${process.pid}-${Date.now()}`;
    for (const seed of seeds) await trainTwoTower({ worldDir, registryRoot: aside, seed, ...TRAINING });
    try {
      renameSync(aside, cached);
    } catch {
      rmSync(aside, { recursive: true, force: true }); // another test file won the race
    }
  }
  const mine = mkdtempSync(join(tmpdir(), 'feedloom-registry-'));
  cpSync(cached, mine, { recursive: true });
  return mine;
}

/** n ports that were free a moment ago (for configs whose ports must be known before start). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Mtime-free directory listing helper for assertions. */
export function filesIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile()).sort();
}
