// Absolute paths say where a machine keeps its data and code; no caller needs that to act on an
// error, and a status page read from outside should not map the host. What leaves a process (gRPC
// error details, the status page and status.json) shows a path relative to the working directory,
// or only its last two parts. Logs keep the full paths: they are the operator's.
import { readdirSync } from 'node:fs';
import path from 'node:path';

/** A path as it may be shown: relative to `cwd` when inside it (and cwd is not /), else "…/parent/name" or "…/name". */
export function publicPath(p: string, cwd = process.cwd()): string {
  if (cwd !== '/') {
    const rel = path.relative(cwd, p);
    if (rel === '') return '.';
    if (!rel.startsWith('..') && !path.isAbsolute(rel)) return rel;
  }
  // Never the whole path: its last two parts, or its last one when it has only two.
  const parts = p.split('/').filter(Boolean);
  return `…/${parts.slice(parts.length > 2 ? -2 : -1).join('/')}`;
}

// An absolute path in running text: "/" then segments, not inside a word, URL or relative path.
const ABSOLUTE_PATH = /(?<![\w.:/~@-])\/[\w.@+~=-]+(?:\/[\w.@+~=-]*)*/g;
let rootEntries: Set<string> | undefined;

/**
 * The text with every absolute filesystem path replaced by its publicPath. Only paths under an
 * entry of this machine's root directory count, so gRPC method paths ("/feedloom.v1.Blender/Blend")
 * and other slashes are left alone.
 */
export function withoutAbsolutePaths(text: string, cwd = process.cwd()): string {
  if (!text.includes('/')) return text;
  rootEntries ??= new Set(safeReaddir('/'));
  return text.replace(ABSOLUTE_PATH, (match) =>
    rootEntries!.has(match.split('/')[1]) ? publicPath(match, cwd) : match,
  );
}

/** A copy of a JSON-like value with withoutAbsolutePaths applied to every string in it. */
export function withoutAbsolutePathsDeep<T>(value: T, cwd = process.cwd()): T {
  if (typeof value === 'string') return withoutAbsolutePaths(value, cwd) as T;
  if (Array.isArray(value)) return value.map((v) => withoutAbsolutePathsDeep(v, cwd)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutAbsolutePathsDeep(v, cwd)])) as T;
  return value;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
