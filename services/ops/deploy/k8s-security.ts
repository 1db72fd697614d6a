// The security side of the Kubernetes manifests: the tokens as a Secret mounted into every pod, the
// cluster config's `security` section pointing at it, and a NetworkPolicy per component.
import { randomBytes } from 'node:crypto';
import { readTokenFile } from '../../../libs/bootstrap/credentials.js';
import { operationsPortOf } from '../../../libs/config/security.js';
import type { MeshConfig } from '../../../libs/config/mesh.js';

export const TOKENS_SECRET = 'feedloom-tokens';
export const TLS_SECRET = 'feedloom-tls';
const TOKENS_PATH = '/var/run/feedloom/tokens';
const TLS_PATH = '/var/run/feedloom/tls';

/** Pods of other namespaces (or this one) that may call in, by the label they carry. */
export const CLIENT_LABEL = 'feedloom/client';

type Obj = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string } };

/**
 * The Secret's tokens: the config's token files where it names them, else fresh random ones (each
 * generation makes new ones: apply the Secret once, or keep the files and name them in the config).
 */
export function secretTokens(mesh: MeshConfig): Record<string, string> {
  const s = mesh.security;
  const random = () => randomBytes(32).toString('hex');
  const admin = s.adminTokenFile ? readTokenFile(s.adminTokenFile, 'security.adminTokenFile') : random();
  return {
    'admin-token': admin,
    'mesh-token': s.meshTokenFile ? readTokenFile(s.meshTokenFile, 'security.meshTokenFile') : random(),
    ...(s.feedTokenFile ? { 'feed-token': readTokenFile(s.feedTokenFile, 'security.feedTokenFile') } : {}),
  };
}

export function tokenSecret(tokens: Record<string, string>, namespace: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: TOKENS_SECRET, namespace },
    type: 'Opaque',
    stringData: tokens,
  };
}

/** The cluster config's `security`: the tokens and certificates where the pods mount them. */
export function clusterSecurity(mesh: MeshConfig, tokens: Record<string, string>): Record<string, unknown> {
  const tls = mesh.security.tls;
  return {
    ...mesh.security,
    adminTokenFile: `${TOKENS_PATH}/admin-token`,
    meshTokenFile: `${TOKENS_PATH}/mesh-token`,
    ...(tokens['feed-token'] ? { feedTokenFile: `${TOKENS_PATH}/feed-token` } : {}),
    ...(tls
      ? {
          // The operator's Secret feedloom-tls (e.g. from cert-manager): tls.crt, tls.key, ca.crt.
          tls: {
            ...tls,
            certFile: `${TLS_PATH}/tls.crt`,
            keyFile: `${TLS_PATH}/tls.key`,
            caFile: `${TLS_PATH}/ca.crt`,
          },
        }
      : {}),
  };
}

/** The Secret volumes and their mounts for every pod. */
export function secretVolumes(mesh: MeshConfig) {
  const tls = Boolean(mesh.security.tls);
  return {
    volumes: [
      { name: 'tokens', secret: { secretName: TOKENS_SECRET, defaultMode: 0o400 } },
      ...(tls ? [{ name: 'tls', secret: { secretName: TLS_SECRET, defaultMode: 0o400 } }] : []),
    ],
    mounts: [
      { name: 'tokens', mountPath: TOKENS_PATH, readOnly: true },
      ...(tls ? [{ name: 'tls', mountPath: TLS_PATH, readOnly: true }] : []),
    ],
  };
}

/** The admin listener's port of a component with operations, else undefined. */
export function adminPortOfWorkload(mesh: MeshConfig, component: string, port: number): number | undefined {
  const hasOperations = component === 'blender' || component === 'events' || component === 'ann';
  return hasOperations ? operationsPortOf(mesh.security, component, port) : undefined;
}

const fromLabel = (value: string) => ({
  namespaceSelector: {},
  podSelector: { matchLabels: { [CLIENT_LABEL]: value } },
});
const fromMesh = { podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'feedloom' } } };

/**
 * Only the mesh reaches a component's ports; besides it, pods labelled feedloom/client=feed reach
 * the feed's ports (the blender's Blend, the events service's Log), =operator the admin ports,
 * =metrics the metrics port.
 */
export function networkPolicy(
  o: { name: string; namespace: string; grpcPort: number; adminPort?: number; metricsPort?: number },
  feedReaches: boolean,
): Obj {
  // Operators send debug Blends to the admin port; the feed port is the feed's.
  const rule = (port: number, extra: object[]) => ({ from: [fromMesh, ...extra], ports: [{ protocol: 'TCP', port }] });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      podSelector: { matchLabels: { 'app.kubernetes.io/name': o.name } },
      policyTypes: ['Ingress'],
      ingress: [
        rule(o.grpcPort, feedReaches ? [fromLabel('feed')] : []),
        ...(o.adminPort !== undefined ? [rule(o.adminPort, [fromLabel('operator')])] : []),
        ...(o.metricsPort !== undefined ? [rule(o.metricsPort, [fromLabel('metrics')])] : []),
      ],
    },
  };
}
