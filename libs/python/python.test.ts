import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPython } from './python.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'feedloom-python-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('runPython', () => {
  it('runs a script as __main__ with its arguments and its own directory on the import path', async () => {
    await writeFile(join(dir, 'helper_mod.py'), 'VALUE = 41\n');
    await writeFile(
      join(dir, 'main.py'),
      'import sys\nfrom helper_mod import VALUE\nif __name__ == "__main__":\n    open(sys.argv[2], "w").write(f"{VALUE + int(sys.argv[1])} {sys.argv[0]}")\n',
    );
    const out = join(dir, 'out.txt');
    await runPython(join(dir, 'main.py'), ['1', out]);
    expect(await readFile(out, 'utf8')).toBe(`42 ${join(dir, 'main.py')}`);
  });

  it('rejects with the end of the script’s stderr when it fails', async () => {
    await writeFile(join(dir, 'fail.py'), 'import sys\nprint("bad input: x", file=sys.stderr)\nsys.exit(3)\n');
    await expect(runPython(join(dir, 'fail.py'), [])).rejects.toThrow(/exit code 3[\s\S]*bad input: x/);
  });

  it('leaves no script running when the process that started it is killed (SIGKILL)', async () => {
    const pidFile = join(dir, 'trainer.pid');
    await writeFile(
      join(dir, 'sleeper.py'),
      'import os, sys, time\nopen(sys.argv[1], "w").write(str(os.getpid()))\ntime.sleep(120)\n',
    );
    const parent = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import(${JSON.stringify(new URL('./python.ts', import.meta.url).href)}).then((m) => m.runPython(${JSON.stringify(join(dir, 'sleeper.py'))}, [${JSON.stringify(pidFile)}]))`,
      ],
      { stdio: 'ignore' },
    );
    let pid = 0;
    try {
      expect(
        await until(async () => {
          pid = Number(await readFile(pidFile, 'utf8').catch(() => '0'));
          return pid > 0;
        }, 30_000),
      ).toBe(true);
      expect(alive(pid)).toBe(true);
      parent.kill('SIGKILL');
      expect(await until(() => !alive(pid), 10_000)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
