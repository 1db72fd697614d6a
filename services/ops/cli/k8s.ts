import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { defineCommand } from '../../../libs/bootstrap/command.js';
import { loadMeshConfig } from '../../../libs/config/mesh.js';
import { k8sManifests, type K8sOptions } from '../deploy/k8s.js';

/** Writes one YAML file per object plus a kustomization.yaml, so `kubectl apply -k DIR` deploys the mesh. */
export function writeK8sManifests(configPath: string, outDir: string, options: K8sOptions): string[] {
  const objects = k8sManifests(loadMeshConfig(configPath), options);
  mkdirSync(outDir, { recursive: true });
  const files = objects.map((o) => {
    const file = `${o.kind.toLowerCase()}-${o.metadata.name}.yaml`;
    writeFileSync(join(outDir, file), stringify(o));
    // The Secret holds the tokens: readable by its owner only.
    if (o.kind === 'Secret') chmodSync(join(outDir, file), 0o600);
    return file;
  });
  writeFileSync(
    join(outDir, 'kustomization.yaml'),
    stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      namespace: options.namespace,
      resources: files,
    }),
  );
  return files;
}

export const k8sCommand = defineCommand({
  name: 'k8s',
  usage: '[--out deploy/k8s] [--namespace N] [--image IMG] [--replicas N]',
  summary: 'Kubernetes manifests generated from the mesh config',
  options: {
    out: { type: 'string', arg: 'DIR', default: 'deploy/k8s', help: 'where the manifests go' },
    namespace: { type: 'string', arg: 'N', default: 'feedloom', help: 'Kubernetes namespace' },
    image: { type: 'string', arg: 'IMG', default: 'feedloom:latest', help: 'container image of every component' },
    replicas: { type: 'string', arg: 'N', default: '2', help: 'replicas of each stateless service' },
    'world-claim': {
      type: 'string',
      arg: 'NAME',
      default: 'feedloom-world',
      help: 'the PersistentVolumeClaim that holds the world',
    },
  },
  async run({ values }) {
    const files = writeK8sManifests(values.config, values.out, {
      namespace: values.namespace,
      image: values.image,
      replicas: Number(values.replicas),
      worldClaim: values['world-claim'],
    });
    console.log(
      `wrote ${files.length} manifests and kustomization.yaml to ${values.out}; deploy with: kubectl apply -k ${values.out}`,
    );
    return 0;
  },
});
