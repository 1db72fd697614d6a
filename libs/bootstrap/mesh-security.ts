// The mesh config's `security` section as what servers accept and what channels present.
import { operationsPortOf } from '../config/security.js';
import { addressOf, type MeshConfig } from '../config/mesh.js';
import { meshTokensOf } from './credentials.js';
import type { ChannelSecurity } from './client.js';
import type { ServerSecurity } from './server.js';

/**
 * What every server of the mesh accepts (the admin, mesh and feed tokens) and its TLS. The token
 * files are read when a server starts, not when its options are built.
 */
export function serverSecurityOf(mesh: MeshConfig): ServerSecurity {
  return {
    get tokens() {
      return meshTokensOf(mesh.security, mesh.world.dir).accepted;
    },
    tls: mesh.security.tls,
  };
}

/** What the mesh's own calls present: the mesh token and TLS. */
export function meshChannelOf(mesh: MeshConfig): ChannelSecurity {
  return { token: meshTokensOf(mesh.security, mesh.world.dir).meshToken, tls: mesh.security.tls };
}

/** What an operator's tool (the CLI) presents: the admin token and TLS. */
export function operatorChannelOf(mesh: MeshConfig): ChannelSecurity {
  return { token: meshTokensOf(mesh.security, mesh.world.dir).adminToken, tls: mesh.security.tls };
}

/** Where a component's operations are reached: its address with the admin port in place of its port. */
export function operationsAddressOf(
  mesh: MeshConfig,
  component: string,
  svc: { port: number; address?: string },
): string {
  const address = addressOf(mesh, svc);
  const port = operationsPortOf(mesh.security, component, svc.port);
  return address.replace(/:\d+$/, `:${port}`);
}
