// The scheduler as a mesh component, so `up` (all-in-one or one process per component) and
// Kubernetes run it with the rest. It serves nothing: its RunningServer only carries a stop.
import { parseInterval } from '../../../libs/config/interval.js';
import { HealthState, ServingStatus } from '../../../libs/bootstrap/health.js';
import type { RunningServer } from '../../../libs/bootstrap/server.js';
import type { MeshConfig } from '../../../libs/config/mesh.js';
import type { Component } from '../../servers.js';
import { scheduledJobs } from './jobs.js';
import { startScheduler } from './scheduler.js';

export function schedulerComponent(mesh: MeshConfig): Component {
  return {
    name: 'scheduler',
    port: 0,
    async start(): Promise<RunningServer> {
      const scheduler = startScheduler({
        worldDir: mesh.world.dir,
        jobs: scheduledJobs(mesh),
        leaseTtlMs: parseInterval(mesh.schedule.leaseTtl),
        log: (line) => console.error(`[scheduler] ${line}`),
      });
      const health = new HealthState();
      health.set('', ServingStatus.SERVING);
      return {
        name: 'scheduler',
        port: 0,
        address: `scheduler ${scheduler.holder}`,
        health,
        setServing: () => {},
        stop: () => scheduler.stop(),
      };
    },
  };
}
