import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { SecuritySchema } from '../config/security.js';
import { bearerOf, ensureTokenFile, meshTokensOf, operationRefusal, readTokenFile } from './credentials.js';

describe('credentials', () => {
  it('makes one token file (mode 0600) that every caller reads alike', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'feedloom-cred-')), 'run', 'admin-token');
    const tokens = Array.from({ length: 5 }, () => ensureTokenFile(file, 'the admin token'));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('names a missing or short token file by field and base name, never by its absolute path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedloom-cred-'));
    expect(() => readTokenFile(join(dir, 'nope'), 'security.adminTokenFile')).toThrow(
      /^cannot read security\.adminTokenFile \(nope\): ENOENT$/,
    );
    writeFileSync(join(dir, 'short'), 'abc\n');
    expect(() => readTokenFile(join(dir, 'short'), 'security.feedTokenFile')).toThrow(/at least 16 characters/);
    expect(() => readTokenFile(join(dir, 'nope'), 'x')).not.toThrow(new RegExp(dir));
  });

  it('tells the admin, mesh and feed tokens apart: operations for the first two only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedloom-cred-'));
    for (const who of ['admin', 'mesh', 'feed']) writeFileSync(join(dir, who), `${who}-token-0123456789\n`);
    const security = SecuritySchema.parse({
      adminTokenFile: join(dir, 'admin'),
      meshTokenFile: join(dir, 'mesh'),
      feedTokenFile: join(dir, 'feed'),
    });
    const { accepted } = meshTokensOf(security, dir);
    expect(operationRefusal('admin-token-0123456789', accepted, 'op')).toBeUndefined();
    expect(operationRefusal('mesh-token-0123456789', accepted, 'op')).toBeUndefined();
    expect(operationRefusal('feed-token-0123456789', accepted, 'op')?.code).toBe(status.PERMISSION_DENIED);
    expect(operationRefusal('other-token-0123456789', accepted, 'op')?.code).toBe(status.UNAUTHENTICATED);
    expect(operationRefusal(undefined, accepted, 'op')?.code).toBe(status.UNAUTHENTICATED);
  });

  it('reads "authorization: Bearer <token>"', () => {
    const metadata = new Metadata();
    expect(bearerOf(metadata)).toBeUndefined();
    metadata.set('authorization', 'Bearer abc');
    expect(bearerOf(metadata)).toBe('abc');
    metadata.set('authorization', 'Basic abc');
    expect(bearerOf(metadata)).toBe('');
  });
});
