import { scheduleEnabled, type MeshConfig } from '../../../libs/config/mesh.js';
import { portOf, serverComponents, type Component, type ComponentOptions } from '../../servers.js';
import { adminComponent } from '../admin/component.js';
import { schedulerComponent } from '../scheduler/component.js';

/** Every component the config lists, in start-up order: the servers, the status page, the scheduler. */
export function meshComponents(mesh: MeshConfig, options: ComponentOptions = {}): Component[] {
  // The status page (HTTP): it reads every other component's address from the config. The
  // scheduler last: its rollouts call the servers.
  return [
    ...serverComponents(mesh, options),
    adminComponent(mesh, portOf(options)),
    ...(scheduleEnabled(mesh) ? [schedulerComponent(mesh)] : []),
  ];
}

export function findComponent(mesh: MeshConfig, name: string): Component {
  const all = meshComponents(mesh);
  const found = all.find((c) => c.name === name || c.name === `generator.${name}`);
  if (!found) throw new Error(`no component "${name}" in the mesh config; known: ${all.map((c) => c.name).join(', ')}`);
  return found;
}
