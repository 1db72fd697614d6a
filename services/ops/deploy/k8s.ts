import { scheduleEnabled, type MeshConfig } from '../../../libs/config/mesh.js';
import {
  adminPortOfWorkload,
  clusterSecurity,
  networkPolicy,
  secretTokens,
  secretVolumes,
  tokenSecret,
} from './k8s-security.js';
import { clusterJetStream, jetStreamOf, natsObjects } from './k8s-jetstream.js';
import type { K8sObject, K8sOptions } from './k8s-types.js';

/**
 * Kubernetes manifests for the mesh, generated from the same config both local run modes read:
 * a Deployment + headless Service per stateless component (so grpc-js resolves every pod through
 * DNS and balances round-robin), StatefulSets for the ANN shards and the events service, and the
 * mesh config itself as a ConfigMap with in-cluster DNS addresses. The scheduler (batch jobs,
 * compaction, retraining) is one more Deployment of one replica, the same component `up` runs:
 * see the README's "Kubernetes" section for why not CronJobs. The tokens are a Secret mounted into
 * every pod, and a NetworkPolicy per component admits only the mesh to its ports (k8s-security.ts).
 * With the JetStream events backend, the broker is a StatefulSet of its own (k8s-jetstream.ts).
 */
export type { K8sObject, K8sOptions } from './k8s-types.js';

const CONFIG_PATH = '/etc/feedloom/mesh.json';
const WORLD_PATH = '/data/world';

/** DNS-1123 names: generator names use '_', Kubernetes wants '-'. */
export const k8sName = (component: string) => component.replace(/[._]/g, '-');

export const clusterAddress = (service: string, ns: string, port: number, pod?: string) =>
  `dns:///${pod ? `${pod}.` : ''}${service}.${ns}.svc.cluster.local:${port}`;

interface Workload {
  component: string;
  service: string;
  port: number;
  kind: 'Deployment' | 'StatefulSet';
  replicas: number;
  /** The component argument; ANN pods name themselves from their pod name. */
  componentArg: string;
  writesWorld?: boolean;
  /** No gRPC port (the scheduler): no Service and no probes. */
  serves?: false;
}

function workloads(mesh: MeshConfig, o: K8sOptions): Workload[] {
  const list: Workload[] = [
    {
      component: 'events',
      service: 'events',
      port: mesh.services.events.port,
      kind: 'StatefulSet',
      // Events replicas owning partitions (services.events.replicas): pod events-r is replica r.
      replicas: mesh.services.events.replicas?.length ?? 1,
      // A replica's component is events.<r>: r from the pod's ordinal.
      componentArg: mesh.services.events.replicas ? 'events.$(FEEDLOOM_EVENTS_REPLICA)' : 'events',
      writesWorld: true,
    },
    {
      component: 'blender',
      service: 'blender',
      port: mesh.services.blender.port,
      kind: 'Deployment',
      replicas: o.replicas,
      componentArg: 'blender',
    },
    ...mesh.generators.map((g) => ({
      component: `generator.${g.name}`,
      service: k8sName(`generator-${g.name}`),
      port: g.port,
      kind: 'Deployment' as const,
      replicas: g.enabled ? o.replicas : 0,
      componentArg: g.name,
    })),
  ];
  if (mesh.services.ranker)
    list.push({
      component: 'ranker',
      service: 'ranker',
      port: mesh.services.ranker.port,
      kind: 'Deployment',
      replicas: o.replicas,
      componentArg: 'ranker',
    });
  if (mesh.services.viewer)
    list.push({
      component: 'viewer',
      service: 'viewer',
      port: mesh.services.viewer.port,
      kind: 'Deployment',
      replicas: o.replicas,
      componentArg: 'viewer',
    });
  if (mesh.ann)
    list.push({
      component: 'ann',
      service: 'ann',
      port: mesh.ann.hosts[0].port,
      kind: 'StatefulSet',
      replicas: mesh.ann.hosts.length,
      componentArg: 'ann.$(POD_NAME)',
    });
  if (scheduleEnabled(mesh))
    // One replica: one leader at a time is the lease's job, but a second pod would only wait.
    list.push({
      component: 'scheduler',
      service: 'scheduler',
      port: 0,
      kind: 'Deployment',
      replicas: 1,
      componentArg: 'scheduler',
      writesWorld: true,
      serves: false,
    });
  return list;
}

/** The mesh config as the cluster sees it: every service reached by its in-cluster DNS name. */
export function clusterMeshConfig(
  mesh: MeshConfig,
  o: K8sOptions,
  tokens: Record<string, string> = secretTokens(mesh),
): Record<string, unknown> {
  const ns = o.namespace;
  const raw = structuredClone(mesh) as Record<string, any>;
  raw.security = clusterSecurity(mesh, tokens);
  raw.world = { ...raw.world, dir: WORLD_PATH };
  delete raw.world.snapshotsDir;
  delete raw.registryDir;
  raw.listenHost = '0.0.0.0';
  const eventsPort = mesh.services.events.port;
  raw.services.events.address = clusterAddress('events', ns, eventsPort, 'events-0');
  if (mesh.services.events.replicas) {
    // Any replica answers every call (it forwards to the owner): callers reach them all by the
    // Service's name; each replica is its pod, on the events port.
    raw.services.events.address = clusterAddress('events', ns, eventsPort);
    raw.services.events.replicas = mesh.services.events.replicas.map((r, i) => ({
      ...r,
      address: clusterAddress('events', ns, eventsPort, `events-${i}`),
    }));
  }
  const js = jetStreamOf(mesh);
  if (js) raw.services.events.jetstream = clusterJetStream(js, ns);
  raw.services.blender.address = clusterAddress('blender', ns, mesh.services.blender.port);
  if (raw.services.ranker) raw.services.ranker.address = clusterAddress('ranker', ns, mesh.services.ranker!.port);
  if (raw.services.viewer) raw.services.viewer.address = clusterAddress('viewer', ns, mesh.services.viewer!.port);
  for (const g of raw.generators) g.address = clusterAddress(k8sName(`generator-${g.name}`), ns, g.port);
  if (raw.ann) {
    // Pod ann-i is ann.hosts[i] and keeps its shard: it loads only that shard of each index, and
    // pods of the same shard are its replicas. Clients reach each pod by name, to pick per shard.
    const port = mesh.ann!.hosts[0].port;
    raw.ann.hosts = mesh.ann!.hosts.map((h, i) => ({
      ...h,
      name: `ann-${i}`,
      port,
      address: clusterAddress('ann', ns, port, `ann-${i}`),
    }));
  }
  return raw;
}

function workloadObjects(w: Workload, mesh: MeshConfig, o: K8sOptions): K8sObject[] {
  const name = k8sName(w.component);
  const labels = {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/part-of': 'feedloom',
    'feedloom/component': w.component,
  };
  const metricsPort =
    mesh.telemetry.metricsPortOffset > 0 && w.serves !== false ? w.port + mesh.telemetry.metricsPortOffset : undefined;
  const adminPort = w.serves === false ? undefined : adminPortOfWorkload(mesh, w.component, w.port);
  const secrets = secretVolumes(mesh);
  const container = {
    name,
    image: o.image,
    command: ['node', '--import', 'tsx', 'services/ops/mesh/serve.ts', '--config', CONFIG_PATH, w.componentArg],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      // An events replica is its pod's ordinal (the label Kubernetes 1.28+ sets on StatefulSet pods).
      ...(w.component === 'events' && mesh.services.events.replicas
        ? [
            {
              name: 'FEEDLOOM_EVENTS_REPLICA',
              valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } },
            },
          ]
        : []),
    ],
    ...(w.serves === false
      ? {}
      : {
          ports: [
            { name: 'grpc', containerPort: w.port },
            ...(adminPort ? [{ name: 'admin', containerPort: adminPort }] : []),
            ...(metricsPort ? [{ name: 'metrics', containerPort: metricsPort }] : []),
          ],
          // Kubernetes' native gRPC probes speak grpc.health.v1, which every feedloom server serves.
          readinessProbe: { grpc: { port: w.port }, periodSeconds: 5 },
          livenessProbe: { grpc: { port: w.port }, initialDelaySeconds: 30, periodSeconds: 10 },
        }),
    resources: { requests: { cpu: '250m', memory: '256Mi' } },
    volumeMounts: [
      { name: 'mesh-config', mountPath: '/etc/feedloom', readOnly: true },
      { name: 'world', mountPath: WORLD_PATH, readOnly: !w.writesWorld },
      ...secrets.mounts,
    ],
  };
  const podSpec = {
    terminationGracePeriodSeconds: 30,
    containers: [container],
    volumes: [
      { name: 'mesh-config', configMap: { name: 'feedloom-mesh' } },
      { name: 'world', persistentVolumeClaim: { claimName: o.worldClaim } },
      ...secrets.volumes,
    ],
  };
  const template = {
    metadata: {
      labels,
      annotations: metricsPort ? { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(metricsPort) } : {},
    },
    spec: podSpec,
  };
  const workload: K8sObject = {
    apiVersion: 'apps/v1',
    kind: w.kind,
    metadata: { name, namespace: o.namespace, labels },
    spec: {
      replicas: w.replicas,
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      ...(w.kind === 'StatefulSet' ? { serviceName: w.service, podManagementPolicy: 'Parallel' } : {}),
      // A writer of the world: the old pod is gone before the new one starts (the lease would make
      // the new one wait for the old one's anyway).
      ...(w.kind === 'Deployment' && w.writesWorld ? { strategy: { type: 'Recreate' } } : {}),
      template,
    },
  };
  const service: K8sObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: w.service, namespace: o.namespace, labels },
    // Headless: DNS returns every ready pod, and the clients' round_robin spreads calls over them.
    spec: {
      clusterIP: 'None',
      selector: { 'app.kubernetes.io/name': name },
      ports: [
        { name: 'grpc', port: w.port, targetPort: w.port },
        ...(adminPort ? [{ name: 'admin', port: adminPort, targetPort: adminPort }] : []),
      ],
    },
  };
  if (w.serves === false) return [workload];
  const policy = networkPolicy(
    { name, namespace: o.namespace, grpcPort: w.port, adminPort, metricsPort },
    // The feed service asks the blender for pages and logs what its users did.
    w.component === 'blender' || w.component === 'events',
  );
  return [workload, service, policy];
}

export function k8sManifests(mesh: MeshConfig, o: K8sOptions): K8sObject[] {
  const tokens = secretTokens(mesh);
  const configMap: K8sObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'feedloom-mesh', namespace: o.namespace },
    data: { 'mesh.json': JSON.stringify(clusterMeshConfig(mesh, o, tokens), null, 2) },
  };
  const js = jetStreamOf(mesh);
  return [
    configMap,
    tokenSecret(tokens, o.namespace) as K8sObject,
    ...(js ? natsObjects(js, o) : []),
    ...workloads(mesh, o).flatMap((w) => workloadObjects(w, mesh, o)),
  ];
}
