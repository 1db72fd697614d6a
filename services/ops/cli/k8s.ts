import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadMeshConfig } from '../../../libs/config/mesh.js';
import { k8sManifests, type K8sOptions } from '../deploy/k8s.js';

/** Writes one YAML file per object plus a kustomization.yaml, so `kubectl apply -k DIR` deploys the mesh. */
export function writeK8sManifests(configPath: string, outDir: string, options: K8sOptions): string[] {
  const objects = k8sManifests(loadMeshConfig(configPath), options);
  mkdirSync(outDir, { recursive: true });
  const files = objects.map((o) => {
    const file = `${o.kind.toLowerCase()}-${o.metadata.name}.yaml`;
    writeFileSync(join(outDir, file), stringify(o));
    return file;
  });
  writeFileSync(join(outDir, 'kustomization.yaml'), stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', namespace: options.namespace, resources: files }));
  return files;
}
