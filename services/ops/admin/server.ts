// The admin service: the status page over plain HTTP (node:http, no framework).
//   /             the page (refreshes itself)
//   /fragment     the page body, for the in-page refresh
//   /status.json  the same figures as JSON
//   /healthz      "ok" while the admin process runs (the only path open without the admin token)
// HTTPS when the mesh config names certificates (security.tls).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { MeshConfig } from '../../../libs/config/mesh.js';
import { StatusCollector, type CollectorOptions } from './collect.js';
import { renderBody, renderPage } from './page.js';
import { mayViewStatus } from './page-auth.js';
import { serverSecurityOf } from '../../../libs/bootstrap/mesh-security.js';
import { withoutAbsolutePaths, withoutAbsolutePathsDeep } from '../../../libs/bootstrap/public-paths.js';

export interface AdminOptions extends CollectorOptions {
  /** 0 picks a free port. */
  port: number;
  /** Interface to listen on; default the mesh's listenHost, else its host. */
  host?: string;
}

export interface RunningAdmin {
  port: number;
  /** http://host:port/ */
  url: string;
  collector: StatusCollector;
  stop(): Promise<void>;
}

/** Default admin port while the config has no admin entry: FEEDLOOM_ADMIN_PORT, else the blender's port + 2000. */
export function adminPortOf(mesh: MeshConfig, env: NodeJS.ProcessEnv = process.env): number {
  const configured = (mesh.services as { admin?: { port?: number } }).admin?.port;
  if (configured !== undefined) return configured;
  if (env.FEEDLOOM_ADMIN_PORT) {
    const port = Number(env.FEEDLOOM_ADMIN_PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65_535)
      throw new Error(`FEEDLOOM_ADMIN_PORT must be a port number from 0 to 65535 (got "${env.FEEDLOOM_ADMIN_PORT}")`);
    return port;
  }
  const derived = mesh.services.blender.port + 2_000;
  if (derived > 65_535)
    throw new Error(
      `cannot derive the admin port from the blender's (${mesh.services.blender.port} + 2000 > 65535); set FEEDLOOM_ADMIN_PORT or --port`,
    );
  return derived;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Serves the status page for `mesh` until stopped. */
export async function startAdmin(mesh: MeshConfig, options: AdminOptions): Promise<RunningAdmin> {
  const security = serverSecurityOf(mesh);
  const collector = new StatusCollector(mesh, options);
  // What the page shows leaves the host: no absolute paths in it.
  const status = async () => withoutAbsolutePathsDeep(await collector.snapshot());
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://admin').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'only GET is served here\n');
    if (path !== '/healthz' && !mayViewStatus(req, security.tokens)) {
      res.setHeader('www-authenticate', 'Basic realm="feedloom admin", charset="UTF-8"');
      return send(res, 401, 'text/plain', 'the status page needs the admin token: "Authorization: Bearer <token>"\n');
    }
    switch (path) {
      case '/':
      case '/index.html':
        return send(res, 200, 'text/html', renderPage(await status()));
      case '/fragment':
        return send(res, 200, 'text/html', renderBody(await status()));
      case '/status.json':
        return send(res, 200, 'application/json', `${JSON.stringify(await status(), null, 2)}\n`);
      case '/healthz':
        return send(res, 200, 'text/plain', 'ok\n');
      default:
        return send(res, 404, 'text/plain', `no page ${path}; try / or /status.json\n`);
    }
  };
  const listener: RequestListener = (req, res) => {
    handle(req, res).catch((err) => {
      console.error('[admin] cannot build the status page:', err);
      if (!res.headersSent)
        send(res, 500, 'text/plain', `cannot build the status page: ${withoutAbsolutePaths((err as Error).message)}\n`);
      else res.end();
    });
  };
  const tls = mesh.security.tls;
  const server = tls
    ? createHttpsServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, listener)
    : createServer(listener);
  const host = options.host ?? mesh.listenHost ?? mesh.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`admin: cannot listen on ${host}:${options.port}: ${err.message}`)));
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '::' ? mesh.host : host;
  let stopped: Promise<void> | undefined;
  return {
    port,
    url: `${tls ? 'https' : 'http'}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}/`,
    collector,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        collector.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
