// Manifests generated from the mesh config: structure, and consistency with the config.
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadMeshConfig, parseMeshConfig } from '../libs/config/mesh.js';
import { writeK8sManifests } from '../services/ops/cli/k8s.js';
import { k8sManifests, k8sName } from '../services/ops/deploy/k8s.js';

const options = { namespace: 'feed', image: 'registry.local/feedloom:1', replicas: 3, worldClaim: 'world' };

describe('Kubernetes manifests from the mesh config', () => {
  const out = mkdtempSync(join(tmpdir(), 'k8s-'));
  const files = writeK8sManifests('config/mesh.json', out, options);
  const objects = files.map((f) => parse(readFileSync(join(out, f), 'utf8')));
  const mesh = loadMeshConfig('config/mesh.json');
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

  it('writes every object and a kustomization listing them all', () => {
    const kustomization = parse(readFileSync(join(out, 'kustomization.yaml'), 'utf8'));
    expect(kustomization.resources.sort()).toEqual([...files].sort());
    expect(readdirSync(out).length).toBe(files.length + 1);
    for (const o of objects) {
      expect(o.apiVersion).toBeTruthy();
      expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(o.metadata.namespace).toBe('feed');
    }
  });

  it('gives each generator, and the blender, a Deployment and a headless Service on its configured port', () => {
    for (const [component, port, arg] of [
      ['blender', mesh.services.blender.port, 'blender'],
      ...mesh.generators.map((g) => [`generator.${g.name}`, g.port, g.name] as const),
    ] as const) {
      const name = k8sName(component);
      const deployment = find('Deployment', name);
      expect(deployment, component).toBeDefined();
      expect(deployment.spec.replicas).toBe(3);
      expect(deployment.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': name });
      expect(deployment.spec.template.metadata.labels['app.kubernetes.io/name']).toBe(name);
      const container = deployment.spec.template.spec.containers[0];
      expect(container.image).toBe(options.image);
      expect(container.command.slice(-1)).toEqual([arg]);
      expect(container.ports[0]).toEqual({ name: 'grpc', containerPort: port });
      expect(container.readinessProbe.grpc.port).toBe(port);
      const service = objects.find((o) => o.kind === 'Service' && o.spec.selector['app.kubernetes.io/name'] === name);
      expect(service.spec.clusterIP).toBe('None');
      expect(service.spec.ports[0].port).toBe(port);
    }
  });

  it('runs the scheduler as one Deployment of one replica that writes the world, with no Service', () => {
    const scheduler = find('Deployment', 'scheduler');
    expect(scheduler.spec.replicas).toBe(1);
    expect(scheduler.spec.strategy).toEqual({ type: 'Recreate' });
    const container = scheduler.spec.template.spec.containers[0];
    expect(container.command.slice(-1)).toEqual(['scheduler']);
    expect(container.volumeMounts.find((m: { name: string }) => m.name === 'world').readOnly).toBe(false);
    expect(container.readinessProbe).toBeUndefined();
    expect(find('Service', 'scheduler')).toBeUndefined();
    // Every schedule switched off: no scheduler.
    const off = parseMeshConfig({
      ...JSON.parse(readFileSync('config/mesh.json', 'utf8')),
      schedule: { batch: { enabled: false }, compaction: { enabled: false }, retrain: { enabled: false } },
    });
    expect(k8sManifests(off, options).some((o) => o.metadata.name === 'scheduler')).toBe(false);
  });

  it('runs the event log as a StatefulSet; only it and the scheduler write the world', () => {
    const events = find('StatefulSet', 'events');
    expect(events.spec.replicas).toBe(1);
    expect(
      events.spec.template.spec.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'world').readOnly,
    ).toBe(false);
    const blender = find('Deployment', 'blender');
    expect(
      blender.spec.template.spec.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'world').readOnly,
    ).toBe(true);
  });

  it('ships a cluster config that validates and reaches every service by DNS, round-robin', () => {
    const config = parseMeshConfig(JSON.parse(find('ConfigMap', 'feedloom-mesh').data['mesh.json']));
    expect(config.listenHost).toBe('0.0.0.0');
    expect(config.services.blender.address).toBe(`dns:///blender.feed.svc.cluster.local:${mesh.services.blender.port}`);
    for (const g of config.generators) {
      const service = objects.find(
        (o) => o.kind === 'Service' && `dns:///${o.metadata.name}.feed.svc.cluster.local:${g.port}` === g.address,
      );
      expect(service, g.name).toBeDefined();
    }
  });

  it('makes the ANN hosts one StatefulSet, each pod a named host', () => {
    const withAnn = JSON.parse(readFileSync('config/mesh.json', 'utf8'));
    withAnn.ann = {
      hosts: [
        { name: 'a', port: 50301 },
        { name: 'b', port: 50302 },
        { name: 'c', port: 50303 },
      ],
    };
    const dir = mkdtempSync(join(tmpdir(), 'k8s-ann-'));
    const configPath = join(dir, 'mesh.json');
    writeFileSync(configPath, JSON.stringify({ ...withAnn, world: { ...withAnn.world, dir: '/tmp/w' } }));
    const annFiles = writeK8sManifests(configPath, join(dir, 'out'), options);
    const annObjects = annFiles.map((f) => parse(readFileSync(join(dir, 'out', f), 'utf8')));
    const sts = annObjects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'ann');
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.serviceName).toBe('ann');
    expect(sts.spec.template.spec.containers[0].command.slice(-1)).toEqual(['ann.$(POD_NAME)']);
    const config = parseMeshConfig(JSON.parse(annObjects.find((o) => o.kind === 'ConfigMap').data['mesh.json']));
    expect(config.ann!.hosts.map((h) => h.address)).toEqual(
      [0, 1, 2].map((i) => `dns:///ann-${i}.ann.feed.svc.cluster.local:50301`),
    );
  });
});

describe('Kubernetes security: the tokens Secret and a NetworkPolicy per component', () => {
  const out = mkdtempSync(join(tmpdir(), 'k8s-sec-'));
  const files = writeK8sManifests('config/mesh.json', out, options);
  const objects = files.map((f) => parse(readFileSync(join(out, f), 'utf8')));
  const mesh = loadMeshConfig('config/mesh.json');
  const config = parseMeshConfig(
    JSON.parse(objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'feedloom-mesh').data['mesh.json']),
  );

  it('emits the tokens as a Secret (file mode 0600) that every pod mounts where the cluster config names them', () => {
    const secret = objects.find((o) => o.kind === 'Secret');
    expect(secret.metadata.name).toBe('feedloom-tokens');
    expect(Object.keys(secret.stringData).sort()).toEqual(['admin-token', 'mesh-token']);
    for (const token of Object.values(secret.stringData) as string[]) expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(
      statSync(
        join(
          out,
          files.find((f) => f.startsWith('secret-'))!,
        ),
      ).mode & 0o777,
    ).toBe(0o600);
    expect(config.security.adminTokenFile).toBe('/var/run/feedloom/tokens/admin-token');
    expect(config.security.meshTokenFile).toBe('/var/run/feedloom/tokens/mesh-token');
    for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'StatefulSet')) {
      const pod = o.spec.template.spec;
      expect(pod.volumes).toContainEqual({
        name: 'tokens',
        secret: { secretName: 'feedloom-tokens', defaultMode: 0o400 },
      });
      expect(pod.containers[0].volumeMounts).toContainEqual({
        name: 'tokens',
        mountPath: '/var/run/feedloom/tokens',
        readOnly: true,
      });
    }
  });

  it('takes the tokens from the files the config names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8s-tokens-'));
    writeFileSync(join(dir, 'admin'), 'a'.repeat(40));
    writeFileSync(join(dir, 'mesh'), 'm'.repeat(40));
    const raw = JSON.parse(readFileSync('config/mesh.json', 'utf8'));
    const named = parseMeshConfig({
      ...raw,
      world: { ...raw.world, dir: '/tmp/w' },
      security: { adminTokenFile: join(dir, 'admin'), meshTokenFile: join(dir, 'mesh') },
    });
    const secret = k8sManifests(named, options).find((o) => o.kind === 'Secret') as any;
    expect(secret.stringData).toEqual({ 'admin-token': 'a'.repeat(40), 'mesh-token': 'm'.repeat(40) });
  });

  it('admits only the mesh to each component, the feed to the blender, operators to the admin ports', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const workloads = objects.filter(
      (o) => (o.kind === 'Deployment' || o.kind === 'StatefulSet') && o.metadata.name !== 'scheduler',
    );
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(workloads.map((w) => w.metadata.name).sort());
    const mesh_ = { podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'feedloom' } } };
    const client = (value: string) => ({
      namespaceSelector: {},
      podSelector: { matchLabels: { 'feedloom/client': value } },
    });
    for (const p of policies) {
      expect(p.spec.podSelector.matchLabels['app.kubernetes.io/name']).toBe(p.metadata.name);
      expect(p.spec.policyTypes).toEqual(['Ingress']);
      // Every rule admits the mesh; a pod's other ports are closed.
      for (const rule of p.spec.ingress) expect(rule.from[0]).toEqual(mesh_);
      const workload = workloads.find((w) => w.metadata.name === p.metadata.name);
      const ports = workload.spec.template.spec.containers[0].ports.map(
        (x: { containerPort: number }) => x.containerPort,
      );
      expect(p.spec.ingress.map((r: any) => r.ports[0].port).sort()).toEqual([...ports].sort());
    }
    const blender = policies.find((p) => p.metadata.name === 'blender');
    const grpc = mesh.services.blender.port;
    const admin = grpc + mesh.security.adminPortOffset;
    expect(blender.spec.ingress.find((r: any) => r.ports[0].port === grpc).from).toEqual([mesh_, client('feed')]);
    expect(blender.spec.ingress.find((r: any) => r.ports[0].port === admin).from).toEqual([mesh_, client('operator')]);
    const events = policies.find((p) => p.metadata.name === 'events');
    expect(events.spec.ingress.find((r: any) => r.ports[0].port === mesh.services.events.port).from).toEqual([
      mesh_,
      client('feed'),
    ]);
    const generator = policies.find((p) => p.metadata.name === k8sName(`generator.${mesh.generators[0].name}`));
    expect(generator.spec.ingress.find((r: any) => r.ports[0].port === mesh.generators[0].port).from).toEqual([mesh_]);
  });

  it('with the JetStream events backend: a broker StatefulSet (a cluster of as many pods as stream replicas), reached by name, admitting only the mesh', () => {
    const raw = JSON.parse(readFileSync('config/mesh.json', 'utf8'));
    raw.services.events.backend = 'jetstream';
    raw.services.events.jetstream = { replicas: 3 };
    const js = k8sManifests(parseMeshConfig(raw), options);
    const sts = js.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'nats') as any;
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.serviceName).toBe('nats');
    expect(sts.spec.volumeClaimTemplates[0].spec.accessModes).toEqual(['ReadWriteOnce']);
    const args: string[] = sts.spec.template.spec.containers[0].args;
    expect(args).toEqual(expect.arrayContaining(['--jetstream', '--server_name', '$(POD_NAME)', '--routes']));
    expect(args[args.indexOf('--routes') + 1].split(',')).toEqual(
      [0, 1, 2].map((i) => `nats://nats-${i}.nats.feed.svc.cluster.local:6222`),
    );
    const service = js.find((o) => o.kind === 'Service' && o.metadata.name === 'nats') as any;
    expect(service.spec.clusterIP).toBe('None');
    expect(service.spec.ports.map((p: { port: number }) => p.port)).toEqual([4222, 6222]);
    const policy = js.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'nats') as any;
    expect(policy.spec.ingress[0].from).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'feedloom' } } },
    ]);
    // The cluster's config reaches the three pods and starts no broker of its own.
    const config = parseMeshConfig(JSON.parse((js.find((o) => o.kind === 'ConfigMap') as any).data['mesh.json']));
    expect(config.services.events.jetstream).toMatchObject({
      servers: [0, 1, 2].map((i) => `nats://nats-${i}.nats.feed.svc.cluster.local:4222`),
      managed: false,
      replicas: 3,
    });
    // The file backend (the shipped config) has no broker.
    expect(objects.some((o) => o.metadata.name === 'nats')).toBe(false);
  });

  it('with events replicas: one events StatefulSet of as many pods, each replica its pod by ordinal, callers on the Service', () => {
    const raw = JSON.parse(readFileSync('config/mesh.json', 'utf8'));
    raw.services.events.backend = 'jetstream';
    raw.services.events.replicas = [
      { address: '127.0.0.1:50100' },
      { address: '127.0.0.1:50110' },
      { address: '127.0.0.1:50120' },
    ];
    const objects = k8sManifests(parseMeshConfig(raw), options);
    const sts = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'events') as any;
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.template.spec.containers[0].env).toContainEqual({
      name: 'FEEDLOOM_EVENTS_REPLICA',
      valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } },
    });
    expect(sts.spec.template.spec.containers[0].command.at(-1)).toBe('events.$(FEEDLOOM_EVENTS_REPLICA)');
    const config = parseMeshConfig(JSON.parse((objects.find((o) => o.kind === 'ConfigMap') as any).data['mesh.json']));
    const port = config.services.events.port;
    expect(config.services.events.address).toBe(`dns:///events.feed.svc.cluster.local:${port}`);
    expect(config.services.events.replicas!.map((r) => r.address)).toEqual(
      [0, 1, 2].map((i) => `dns:///events-${i}.events.feed.svc.cluster.local:${port}`),
    );
    // Without replicas: one events pod, no replica index.
    const single = k8sManifests(loadMeshConfig('config/mesh.json'), options).find(
      (o) => o.kind === 'StatefulSet' && o.metadata.name === 'events',
    ) as any;
    expect(single.spec.replicas).toBe(1);
    expect(single.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name)).toEqual(['POD_NAME']);
  });
});
