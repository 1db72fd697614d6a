// Bearer tokens for operations: read from files named in the mesh config, compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { status, type Metadata } from '@grpc/grpc-js';
import { RpcError } from './errors.js';
import { adminTokenFileOf, type SecurityConfig } from '../config/security.js';

/** Who a call's credential says it comes from. */
export type Caller = 'admin' | 'mesh' | 'feed';

/** The tokens a server accepts, as SHA-256 digests (equal length, so the comparison is constant time). */
export interface TokenSet {
  digests: { caller: Caller; digest: Buffer }[];
}

/** The tokens a process of the mesh holds: what servers accept and what its own calls carry. */
export interface MeshTokens {
  accepted: TokenSet;
  /** Sent by the mesh's own calls (security.meshTokenFile, else the admin token). */
  meshToken: string;
  /** For operator tools (the CLI). */
  adminToken: string;
}

const digestOf = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/** A token file's content, trimmed; errors name the file, not its absolute path. */
export function readTokenFile(path: string, what: string): string {
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new Error(`cannot read ${what} (${basename(path)}): ${code}`);
  }
  if (token.length < 16) throw new Error(`${what} (${basename(path)}) must hold a token of at least 16 characters`);
  return token;
}

/** Reads the token at path, first writing a random one there (mode 0600) when no file exists yet. */
export function ensureTokenFile(path: string, what: string): string {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Written whole under a private name, then linked into place: of two processes starting at once,
  // one link wins, and neither ever reads a half-written file.
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  try {
    linkSync(draft, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(draft);
  }
  return readTokenFile(path, what);
}

const cache = new Map<string, MeshTokens>();

/**
 * The tokens of a mesh. The admin token is security.adminTokenFile, else <worldDir>/run/admin-token,
 * made on first use: operations always need a credential, also in a zero-config local mesh.
 */
export function meshTokensOf(security: SecurityConfig, worldDir: string): MeshTokens {
  const adminFile = adminTokenFileOf(security, worldDir);
  const key = JSON.stringify([adminFile, security.meshTokenFile, security.feedTokenFile]);
  const known = cache.get(key);
  if (known) return known;
  const adminToken = security.adminTokenFile
    ? readTokenFile(adminFile, 'security.adminTokenFile')
    : ensureTokenFile(adminFile, 'the admin token');
  const meshToken = security.meshTokenFile
    ? readTokenFile(security.meshTokenFile, 'security.meshTokenFile')
    : adminToken;
  const feedToken = security.feedTokenFile && readTokenFile(security.feedTokenFile, 'security.feedTokenFile');
  const tokens: MeshTokens = {
    adminToken,
    meshToken,
    accepted: {
      digests: [
        { caller: 'admin', digest: digestOf(adminToken) },
        { caller: 'mesh', digest: digestOf(meshToken) },
        ...(feedToken ? [{ caller: 'feed' as const, digest: digestOf(feedToken) }] : []),
      ],
    },
  };
  cache.set(key, tokens);
  return tokens;
}

/** The bearer token of a call's metadata ("authorization: Bearer …"), if any. */
export function bearerOf(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return m ? m[1] : '';
}

/** Who a token belongs to, every candidate compared in constant time; undefined: nobody. */
export function callerOf(token: string, tokens: TokenSet): Caller | undefined {
  const digest = digestOf(token);
  let found: Caller | undefined;
  for (const known of tokens.digests) if (timingSafeEqual(digest, known.digest) && !found) found = known.caller;
  return found;
}

/**
 * Undefined when the token may run an operation (the admin or the mesh token); else the refusal:
 * UNAUTHENTICATED with no or an unknown credential, PERMISSION_DENIED with the feed's.
 */
export function operationRefusal(token: string | undefined, tokens: TokenSet, what: string): RpcError | undefined {
  if (token === undefined)
    return new RpcError(status.UNAUTHENTICATED, `${what} is an operation: send "authorization: Bearer <admin token>"`);
  const caller = callerOf(token, tokens);
  if (caller === 'admin' || caller === 'mesh') return undefined;
  if (caller === 'feed')
    return new RpcError(status.PERMISSION_DENIED, `${what} is an operation: the feed's token may not run it`);
  return new RpcError(status.UNAUTHENTICATED, `${what}: the bearer token is not one this mesh knows`);
}
