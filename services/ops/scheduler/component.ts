// The scheduler as a mesh component, so `up` (all-in-one or one process per component) and
// Kubernetes run it with the rest. It serves nothing: its RunningServer only carries a stop.
import { parseInterval } from '../../../libs/config/interval.js';
import type { RunningServer } from '../../../libs/bootstrap/server.js';
import type { MeshConfig } from '../../../libs/config/mesh.js';
import type { Component } from '../../servers.js';
import { scheduledJobs } from './jobs.js';
import { startScheduler } from './scheduler.js';
import { runningWithoutGrpc } from '../../../libs/bootstrap/running-without-grpc.js';

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
      return runningWithoutGrpc({
        name: 'scheduler',
        port: 0,
        address: `scheduler ${scheduler.holder}`,
        stop: () => scheduler.stop(),
      });
    },
  };
}
