// Runs the Python scripts (the trainers in services/offline/trainer/*.py, EASE's dense solve in libs/cf/)
// with Debian's Python, which has PyTorch, onnx and numpy (`python3` on PATH may be another
// interpreter without them).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DEFAULT_PYTHON = process.env.FEEDLOOM_PYTHON ?? '/usr/bin/python3';

/** Absolute path of a trainer script in services/offline/trainer/. */
export function trainerScript(name: string): string {
  return fileURLToPath(new URL(`../../services/offline/trainer/${name}`, import.meta.url));
}

export interface RunPythonOptions {
  python?: string;
  /** Each line the script writes to stderr (its progress log). */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** OpenMP/BLAS threads (default 1: see the spawn below). */
  threads?: number;
}

/**
 * Starts the script so that it ends with the process that started it: Linux's parent-death signal
 * (prctl PR_SET_PDEATHSIG) is set before the script runs, so a scheduler or eval killed mid-training
 * (SIGKILL included) leaves no trainer behind writing into a version directory. Where prctl is not
 * there (not Linux), the script runs as it would alone.
 */
const RUN_WITH_PARENT = [
  'import ctypes, os, runpy, signal, sys',
  'script = sys.argv[1]',
  'try:',
  '    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)',
  '    if os.getppid() != int(os.environ["FEEDLOOM_PARENT_PID"]): sys.exit(143)',
  'except (AttributeError, OSError):',
  '    pass',
  'sys.argv = sys.argv[1:]',
  'sys.path.insert(0, os.path.dirname(os.path.abspath(script)))',
  'runpy.run_path(script, run_name="__main__")',
].join('\n');

/** Runs script with args; resolves on exit 0, rejects with the end of its stderr otherwise. */
export function runPython(script: string, args: string[], options: RunPythonOptions = {}): Promise<void> {
  const python = options.python ?? DEFAULT_PYTHON;
  if (!existsSync(python))
    return Promise.reject(
      new Error(
        `${python} not found: install Debian's python3 with python3-torch, python3-onnx and python3-numpy (make setup)`,
      ),
    );
  if (!existsSync(script)) return Promise.reject(new Error(`python script ${script} not found`));
  const threads = String(options.threads ?? 1);
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-W', 'ignore::UserWarning', '-c', RUN_WITH_PARENT, script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // One thread each by default: on a small shared machine a trainer's threads spin against each
      // other (and results stay bit-for-bit repeatable). A dense LAPACK solve does use more.
      env: {
        ...process.env,
        OMP_NUM_THREADS: threads,
        MKL_NUM_THREADS: threads,
        PYTHONUNBUFFERED: '1',
        FEEDLOOM_PARENT_PID: String(process.pid),
      },
      signal: options.signal,
    });
    const tail: string[] = [];
    let partial = '';
    const onData = (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 30) tail.shift();
        options.log?.(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => reject(new Error(`could not run ${python} ${script}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (partial.trim()) tail.push(partial);
      if (code === 0) resolve();
      else
        reject(
          new Error(`${script} failed (${signal ? `signal ${signal}` : `exit code ${code}`}):\n${tail.join('\n')}`),
        );
    });
  });
}
