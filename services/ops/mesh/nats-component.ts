// The local JetStream broker as a mesh component: with services.events.backend "jetstream" and
// jetstream.managed, `up` starts nats-server before the events service (on the first URL's host and
// port, its store under <world>/run/nats) and stops it after everything else.
import { join } from 'node:path';
import type { RunningServer } from '../../../libs/bootstrap/server.js';
import type { MeshConfig } from '../../../libs/config/mesh.js';
import type { Component, ComponentOptions } from '../../servers.js';
import { startNatsServer } from './nats-server.js';
import { runningWithoutGrpc } from '../../../libs/bootstrap/running-without-grpc.js';

/** The broker component, when the config has `up` run one; none otherwise. */
export function natsComponents(mesh: MeshConfig, options: ComponentOptions = {}): Component[] {
  const { backend, jetstream } = mesh.services.events;
  if (backend !== 'jetstream' || !jetstream.managed) return [];
  const [, host, port] = /^(?:nats:\/\/)?([^:/]+):(\d+)$/.exec(jetstream.servers[0])!;
  return [
    {
      name: 'nats',
      port: Number(port),
      async start(): Promise<RunningServer> {
        const nats = await startNatsServer({
          host,
          port: options.ephemeralPorts ? 0 : Number(port),
          storeDir: join(mesh.world.dir, 'run', 'nats'),
          // Its warnings and errors only: the rest is start-up chatter.
          log: (line) => /\[(WRN|ERR|FTL)\]/.test(line) && console.error(`[nats] ${line}`),
        });
        // With ephemeral ports the events service must learn where the broker really listens.
        if (options.ephemeralPorts) jetstream.servers = [nats.url];
        return runningWithoutGrpc({ name: 'nats', port: nats.port, address: nats.url, stop: () => nats.stop() });
      },
    },
  ];
}
