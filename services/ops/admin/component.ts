// The status page as a mesh component, so both run modes serve it (`serve.ts admin`, all-in-one).
// It is HTTP, not gRPC: the RunningServer it returns only carries its address and a stop.
import { HealthState, ServingStatus } from '../../../libs/bootstrap/health.js';
import type { RunningServer } from '../../../libs/bootstrap/server.js';
import type { MeshConfig } from '../../../libs/config/mesh.js';
import type { Component } from '../../servers.js';
import { adminPortOf, startAdmin } from './server.js';

export function adminComponent(mesh: MeshConfig, port: (configured: number) => number): Component {
  let configured = 0;
  try {
    configured = adminPortOf(mesh);
  } catch {
    // Reported when the component starts; listing components must not fail because of it.
  }
  return {
    name: 'admin',
    port: configured,
    async start(): Promise<RunningServer> {
      const admin = await startAdmin(mesh, { port: port(adminPortOf(mesh)) });
      const health = new HealthState();
      health.set('', ServingStatus.SERVING);
      return {
        name: 'admin',
        port: admin.port,
        address: admin.url,
        health,
        setServing: () => {},
        stop: () => admin.stop(),
      };
    },
  };
}
