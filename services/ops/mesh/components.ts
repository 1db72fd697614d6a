import { scheduleEnabled, type MeshConfig } from '../../../libs/config/mesh.js';
import { portOf, serverComponents, type Component, type ComponentOptions } from '../../servers.js';
import { adminComponent } from '../admin/component.js';
import { schedulerComponent } from '../scheduler/component.js';
import { natsComponents } from './nats-component.js';

/** Every component the config lists, in start-up order: the servers, the status page, the scheduler. */
export function meshComponents(mesh: MeshConfig, options: ComponentOptions = {}): Component[] {
  // The status page (HTTP): it reads every other component's address from the config. The
  // scheduler last: its rollouts call the servers.
  // The managed JetStream broker first: the events service replays from it at start-up.
  return [
    ...natsComponents(mesh, options),
    ...serverComponents(mesh, options),
    adminComponent(mesh, portOf(options)),
    ...(scheduleEnabled(mesh) ? [schedulerComponent(mesh)] : []),
  ];
}

/** The component a process of its own serves (services/ops/mesh/serve.ts). */
export function findComponent(mesh: MeshConfig, name: string): Component {
  const all = meshComponents(mesh, { alone: true });
  const found = all.find((c) => c.name === name || c.name === `generator.${name}`);
  if (!found) throw new Error(`no component "${name}" in the mesh config; known: ${all.map((c) => c.name).join(', ')}`);
  return found;
}
