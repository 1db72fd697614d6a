import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * vitest's global set-up: every temporary directory the suite makes goes under one directory of
 * this run (TMPDIR, which the forked test workers and the processes they spawn inherit), removed
 * when the run ends. Tests that stop early, or clean up only on success, left thousands behind.
 */
export default function useRunTmpdir(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'feedloom-run-'));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
