import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMeshConfig, parseMeshConfig } from './mesh.js';
import { adminTokenFileOf, operationsPortOf } from './security.js';

const valid = (security?: unknown) => ({
  world: { preset: 'tiny', seed: 1, dir: 'world' },
  services: { events: { port: 1 }, blender: { port: 2 } },
  generators: [{ name: 'popular', port: 3 }],
  ...(security === undefined ? {} : { security }),
});

describe('mesh config security', () => {
  it('defaults to the world admin token, admin ports at port + 3000, plaintext', () => {
    const { security } = parseMeshConfig(valid());
    expect(security).toEqual({ adminPortOffset: 3_000, adminPorts: {} });
    expect(adminTokenFileOf(security, '/w')).toBe('/w/run/admin-token');
    expect(operationsPortOf(security, 'blender', 50051)).toBe(53051);
    expect(operationsPortOf({ ...security, adminPorts: { blender: 6000 } }, 'blender', 50051)).toBe(6000);
    // A server on any free port gets its admin listener on any free port too.
    expect(operationsPortOf({ ...security, adminPorts: { blender: 6000 } }, 'blender', 0)).toBe(0);
  });

  it('names a typo by its path', () => {
    expect(() => parseMeshConfig(valid({ adminTokenFle: 'x' }), 'mesh.json')).toThrow(
      /security: Unrecognized key\(s\) in object: 'adminTokenFle'/,
    );
    expect(() => parseMeshConfig(valid({ tls: { certFile: 'c', keyFile: 'k' } }), 'mesh.json')).toThrow(
      /security\.tls\.caFile: Required/,
    );
  });

  it("resolves the files against the config file's directory", () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedloom-security-'));
    mkdirSync(join(dir, 'conf'));
    const path = join(dir, 'conf', 'mesh.json');
    writeFileSync(
      path,
      JSON.stringify(
        valid({ adminTokenFile: 'secrets/admin', tls: { certFile: 'c.pem', keyFile: '/abs/k.pem', caFile: 'ca.pem' } }),
      ),
    );
    const { security } = loadMeshConfig(path);
    expect(security.adminTokenFile).toBe(join(dir, 'conf', 'secrets', 'admin'));
    expect(security.tls).toEqual({
      certFile: join(dir, 'conf', 'c.pem'),
      keyFile: '/abs/k.pem',
      caFile: join(dir, 'conf', 'ca.pem'),
      requireClientCert: false,
    });
  });
});
