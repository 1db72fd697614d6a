// Builds faiss-node 0.5.1 WITHOUT feedloom's patch into a temporary folder (from the pristine
// sources scripts/build-faiss-node.sh keeps as *.orig), so the benchmarks can compare against it.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export function unpatchedFaissDir(): string {
  const pkg = join(ROOT, 'node_modules/faiss-node');
  const dir = join(tmpdir(), 'feedloom-bench-faiss-node-unpatched');
  if (existsSync(join(dir, 'build/Release/faiss-node.node'))) return dir;
  for (const f of ['src/faiss.cc.orig', 'lib/index.d.ts.orig']) {
    if (!existsSync(join(pkg, f))) throw new Error(`${join(pkg, f)} is missing: run scripts/build-faiss-node.sh first`);
  }
  mkdirSync(dir, { recursive: true });
  for (const f of ['CMakeLists.txt', 'package.json', 'lib', 'src', 'deps'])
    cpSync(join(pkg, f), join(dir, f), { recursive: true });
  cpSync(join(pkg, 'src/faiss.cc.orig'), join(dir, 'src/faiss.cc'));
  cpSync(join(pkg, 'lib/index.d.ts.orig'), join(dir, 'lib/index.d.ts'));
  // cmake-js and node-addon-api resolve from the project's node_modules.
  try {
    execFileSync('ln', ['-sfn', join(ROOT, 'node_modules'), join(dir, 'node_modules')]);
  } catch {
    /* exists */
  }
  writeFileSync(join(dir, '.unpatched'), 'faiss-node 0.5.1 as published, for benchmarks\n');
  console.error(`building unpatched faiss-node in ${dir} …`);
  execFileSync(join(ROOT, 'node_modules/.bin/cmake-js'), ['compile', '--log-level', 'warn'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return dir;
}

/** The unpatched module (faiss-node 0.5.1 as published). */
export function loadUnpatched(): any {
  const dir = unpatchedFaissDir();
  const mod = createRequire(import.meta.url)(dir);
  if (mod.FEEDLOOM_PATCH !== undefined) throw new Error(`${dir} is the patched build`);
  return mod;
}
