import { invalidArgument } from './errors.js';

/** Request validation: each check throws INVALID_ARGUMENT naming the field and the rule it broke. */

/**
 * Runs `check` first with the path '' and, only if that throws, again with `field` so the error
 * names it. Inside a check, `sub` and `entry` build no string while the path is '': a request of
 * hundreds of entries is then checked without making a path for each (they were most of its garbage).
 */
export function checkNamingOnFailure(field: string, check: (path: string) => void): void {
  try {
    check('');
  } catch {
    check(field);
  }
}

/** `path.name`, or '' on the unnamed pass of checkNamingOnFailure. */
export const sub = (path: string, name: string): string => (path ? `${path}.${name}` : '');

/** `path.name[i]`, or '' on the unnamed pass of checkNamingOnFailure. */
export const entry = (path: string, name: string, i: number): string => (path ? `${path}.${name}[${i}]` : '');

const MAX_ID_LENGTH = 256;
// Protobuf decoders replace invalid UTF-8 with U+FFFD; an id carrying it was not valid text.
const BAD_ID_CHARS = /[\u0000-\u001f\u007f\ufffd]/;

/** What is wrong with an id, or undefined when it is a valid one. */
export function idProblem(value: string): string | undefined {
  if (!value) return 'is required and must not be empty';
  if (value.length > MAX_ID_LENGTH) return `must be at most ${MAX_ID_LENGTH} characters (got ${value.length})`;
  if (BAD_ID_CHARS.test(value)) return 'must be valid UTF-8 text without control characters';
  return undefined;
}

export function requireId(field: string, value: string): string {
  const problem = idProblem(value);
  if (problem) throw invalidArgument(field, problem);
  return value;
}

export function optionalId(field: string, value: string): string {
  return value ? requireId(field, value) : value;
}

export function requireIntInRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(field, `must be an integer from ${min} to ${max} (got ${value})`);
  }
  return value;
}

/** An int that may be left at 0 to mean "use the default". */
export function intOrDefault(field: string, value: number, fallback: number, max: number): number {
  if (value === 0) return fallback;
  return requireIntInRange(field, value, 1, max);
}

/** Each enum's known values, computed once: a request checks one per action. */
const knownValues = new WeakMap<object, Set<number>>();

/** A proto enum value that is known and not the UNSPECIFIED zero. */
export function requireEnum<E extends Record<string, string | number>>(
  field: string,
  value: number,
  values: E,
): number {
  let known = knownValues.get(values);
  if (!known) {
    known = new Set(Object.values(values).filter((v): v is number => typeof v === 'number' && v > 0));
    knownValues.set(values, known);
  }
  if (!known.has(value)) {
    const names = Object.keys(values).filter((k) => typeof values[k] === 'number' && (values[k] as number) > 0);
    throw invalidArgument(field, `must be one of ${names.join(', ')} (got ${value})`);
  }
  return value;
}

export function requireMaxItems<T>(field: string, items: T[], max: number, min = 0): T[] {
  if (items.length < min) throw invalidArgument(field, `must hold at least ${min} item(s)`);
  if (items.length > max) throw invalidArgument(field, `must hold at most ${max} items (got ${items.length})`);
  return items;
}

/** 2100-01-01T00:00:00Z. */
const MAX_TIME_MS = 4_102_444_800_000;

export function requireTimeMs(field: string, value: number): number {
  // 0 is "unset"; anything else is a time from 1970 (real logs reach back decades) up to 2100.
  if (value !== 0 && (!Number.isInteger(value) || value < 0 || value > MAX_TIME_MS)) {
    throw invalidArgument(field, `must be milliseconds since the Unix epoch, from 1970 up to 2100 (got ${value})`);
  }
  return value;
}
