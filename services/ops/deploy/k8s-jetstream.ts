// The event stream's broker on Kubernetes, for `services.events.backend: "jetstream"`: a
// StatefulSet of nats-server pods with JetStream, each with its own volume (the stream's store),
// as many pods as the stream keeps replicas (a cluster with routes between the pods when more
// than one), a headless Service, and a NetworkPolicy that admits only the mesh. The cluster's mesh
// config reaches the pods by name and starts no broker itself (managed: false).
import type { JetStreamSettings, MeshConfig } from '../../../libs/config/mesh.js';
import type { K8sObject, K8sOptions } from './k8s-types.js';

export const NATS_SERVICE = 'nats';
const CLIENT_PORT = 4222;
const CLUSTER_PORT = 6222;
const MONITOR_PORT = 8222;
/** The official image; Debian's 2.9 is what tests run against locally. */
export const DEFAULT_NATS_IMAGE = 'nats:2.10-alpine';
const STORE_PATH = '/data/jetstream';

/** The events backend's broker settings when it is JetStream, else undefined. */
export const jetStreamOf = (mesh: MeshConfig): JetStreamSettings | undefined =>
  mesh.services.events.backend === 'jetstream' ? mesh.services.events.jetstream : undefined;

const podCount = (js: JetStreamSettings) => Math.max(1, js.replicas);
const podHost = (i: number, ns: string) => `${NATS_SERVICE}-${i}.${NATS_SERVICE}.${ns}.svc.cluster.local`;

/** The broker as the cluster's events pods reach it: every nats pod by name; none started by the mesh. */
export function clusterJetStream(js: JetStreamSettings, ns: string): JetStreamSettings {
  return {
    ...js,
    servers: Array.from({ length: podCount(js) }, (_, i) => `nats://${podHost(i, ns)}:${CLIENT_PORT}`),
    managed: false,
  };
}

export function natsObjects(js: JetStreamSettings, o: K8sOptions): K8sObject[] {
  const ns = o.namespace;
  const pods = podCount(js);
  const labels = { 'app.kubernetes.io/name': NATS_SERVICE, 'app.kubernetes.io/part-of': 'feedloom' };
  const cluster =
    pods > 1
      ? [
          '--cluster_name',
          'feedloom-events',
          '--cluster',
          `nats://0.0.0.0:${CLUSTER_PORT}`,
          '--routes',
          Array.from({ length: pods }, (_, i) => `nats://${podHost(i, ns)}:${CLUSTER_PORT}`).join(','),
        ]
      : [];
  const statefulSet: K8sObject = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: NATS_SERVICE, namespace: ns, labels },
    spec: {
      serviceName: NATS_SERVICE,
      replicas: pods,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { 'app.kubernetes.io/name': NATS_SERVICE } },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 60,
          containers: [
            {
              name: NATS_SERVICE,
              image: o.natsImage ?? DEFAULT_NATS_IMAGE,
              command: ['nats-server'],
              // Every server needs its own name in a JetStream cluster: the pod's.
              args: [
                '--jetstream',
                '--store_dir',
                STORE_PATH,
                '--port',
                String(CLIENT_PORT),
                '--http_port',
                String(MONITOR_PORT),
                '--server_name',
                '$(POD_NAME)',
                ...cluster,
              ],
              env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
              ports: [
                { name: 'client', containerPort: CLIENT_PORT },
                ...(pods > 1 ? [{ name: 'cluster', containerPort: CLUSTER_PORT }] : []),
                { name: 'monitor', containerPort: MONITOR_PORT },
              ],
              readinessProbe: { httpGet: { path: '/healthz', port: MONITOR_PORT }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: '/healthz', port: MONITOR_PORT }, initialDelaySeconds: 30 },
              resources: { requests: { cpu: '250m', memory: '256Mi' } },
              volumeMounts: [{ name: 'store', mountPath: STORE_PATH }],
            },
          ],
        },
      },
      // Each pod's own store: the stream's replicas live on different volumes.
      volumeClaimTemplates: [
        {
          metadata: { name: 'store' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: o.natsStorage ?? '10Gi' } } },
        },
      ],
    },
  };
  const service: K8sObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: NATS_SERVICE, namespace: ns, labels },
    spec: {
      clusterIP: 'None',
      // The pods find each other by name before they are ready (routes form the cluster).
      publishNotReadyAddresses: true,
      selector: { 'app.kubernetes.io/name': NATS_SERVICE },
      ports: [
        { name: 'client', port: CLIENT_PORT, targetPort: CLIENT_PORT },
        ...(pods > 1 ? [{ name: 'cluster', port: CLUSTER_PORT, targetPort: CLUSTER_PORT }] : []),
      ],
    },
  };
  // Only the mesh (the events and scheduler pods, and the brokers themselves) reaches the broker.
  const fromMesh = { podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'feedloom' } } };
  const policy: K8sObject = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: NATS_SERVICE, namespace: ns },
    spec: {
      podSelector: { matchLabels: { 'app.kubernetes.io/name': NATS_SERVICE } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [fromMesh],
          ports: [CLIENT_PORT, ...(pods > 1 ? [CLUSTER_PORT] : [])].map((port) => ({ protocol: 'TCP', port })),
        },
      ],
    },
  };
  return [statefulSet, service, policy];
}
