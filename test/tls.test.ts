// TLS on every listener and channel when the mesh config names certificates (security.tls): a
// throwaway CA and certificate made with openssl at test time, never committed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import type { TlsConfig } from '../libs/bootstrap/tls.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { smallMesh, testAdminToken, testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';
import { sourceFailed } from '../libs/blend/source-state.js';

/** A CA and one certificate for 127.0.0.1/localhost, good for servers and clients, valid a day. */
function throwawayCertificates(dir: string): TlsConfig {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=feedloom test CA',
  );
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=localhost');
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  ssl(
    'x509',
    '-req',
    '-in',
    'node.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'node.crt',
    '-days',
    '1',
    '-extfile',
    'ext.cnf',
  );
  return {
    certFile: join(dir, 'node.crt'),
    keyFile: join(dir, 'node.key'),
    caFile: join(dir, 'ca.crt'),
    requireClientCert: true,
  };
}

describe('TLS when the config names certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'feedloom-tls-'));
  let tls: TlsConfig;
  let running: Awaited<ReturnType<typeof startAllInOne>>;
  const clients: { close(): void }[] = [];
  const previous = process.env.FEEDLOOM_IN_PROCESS_CALLS;

  beforeAll(async () => {
    tls = throwawayCertificates(dir);
    // Every call over the network, so the mesh's own channels (blender → events, generators) speak TLS too.
    process.env.FEEDLOOM_IN_PROCESS_CALLS = '0';
    const { mesh } = testMeshConfig(await testWorld(), (raw) => {
      smallMesh(raw);
      raw.security.tls = tls;
    });
    running = await startAllInOne(mesh, { ephemeralPorts: true });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await running?.stop();
    if (previous === undefined) delete process.env.FEEDLOOM_IN_PROCESS_CALLS;
    else process.env.FEEDLOOM_IN_PROCESS_CALLS = previous;
    rmSync(dir, { recursive: true, force: true });
  });

  const blender = () => running.servers.find((s) => s.name === 'blender')!;
  const blendWith = (client: BlenderClient, debug = false) => {
    clients.push(client);
    return callUnary(client, 'blend', { userId: 'u3', limit: 10, debug, requestId: '' }, { timeoutMs: 20_000 });
  };

  it('serves a Blend over mutual TLS, every source answering over TLS', async () => {
    const page = await blendWith(connect(BlenderClient, blender().address, { tls }));
    expect(page.items.length).toBeGreaterThan(0);
    expect(!page.sources.some(sourceFailed)).toBe(true);
    // An operation over TLS with the admin token, on the admin port.
    const debug = await blendWith(
      connect(BlenderClient, blender().adminAddress!, { tls, token: testAdminToken() }),
      true,
    );
    expect(debug.debug?.journeys.length).toBeGreaterThan(0);
  });

  it('refuses a plaintext client, and a TLS client without a client certificate', async () => {
    const code = (p: Promise<unknown>) =>
      p.then(
        () => status.OK,
        (err: ServiceError) => err.code,
      );
    expect(await code(blendWith(connect(BlenderClient, blender().address)))).toBe(status.UNAVAILABLE);
    const noClientCert = new BlenderClient(blender().address, credentials.createSsl(readFileSync(tls.caFile)));
    expect(await code(blendWith(noClientCert))).toBe(status.UNAVAILABLE);
  });

  it('serves the status page over HTTPS', async () => {
    const url = new URL('status.json', running.addresses.get('admin')!);
    expect(url.protocol).toBe('https:');
    const get = (token?: string) =>
      new Promise<number>((resolve, reject) =>
        request(
          url,
          { ca: readFileSync(tls.caFile), headers: token ? { authorization: `Bearer ${token}` } : {} },
          (res) => {
            res.resume();
            resolve(res.statusCode!);
          },
        )
          .on('error', reject)
          .end(),
      );
    expect(await get()).toBe(401);
    expect(await get(testAdminToken())).toBe(200);
  });
});
