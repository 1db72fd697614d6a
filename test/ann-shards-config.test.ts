// The shard layout in the mesh config: validated at load, handed to each ANN host, kept by the
// Kubernetes generator (pod ann-N is ann.hosts[N], with its shard).
import { describe, expect, it } from 'vitest';
import { endpointsFromMesh } from '../libs/ann/learned-retrieval.js';
import { annShardCount, loadMeshConfig, parseMeshConfig } from '../libs/config/mesh.js';
import { annHostOptionsFromMesh } from '../services/ann/service.js';
import { clusterMeshConfig, k8sManifests } from '../services/ops/deploy/k8s.js';

const meshWith = (hosts: unknown[]) => ({
  world: { dir: '/w' },
  services: { events: { port: 1 }, blender: { port: 2 }, viewer: { port: 3 } },
  ann: { hosts },
  generators: [{ name: 'two_tower', port: 9 }],
});

const k8s = { namespace: 'feed', image: 'img:1', replicas: 2, worldClaim: 'world' };

describe('ANN shards in the mesh config', () => {
  const twoByTwo = parseMeshConfig(
    meshWith([
      { name: 'a', port: 10, shard: 0 },
      { name: 'b', port: 11, shard: 1 },
      { name: 'c', port: 12, shard: 0 },
      { name: 'd', port: 13, shard: 1 },
    ]),
  );

  it('counts shards and gives each host its shard of how many', () => {
    expect(annShardCount(twoByTwo)).toBe(2);
    expect(annHostOptionsFromMesh(twoByTwo, 'd')).toMatchObject({ name: 'd', port: 13, shard: 1, shardCount: 2 });
    expect(endpointsFromMesh(twoByTwo).shardCount).toBe(2);
    // Hosts without a shard are replicas of shard 0.
    const replicas = parseMeshConfig(
      meshWith([
        { name: 'a', port: 10 },
        { name: 'b', port: 11 },
      ]),
    );
    expect(annShardCount(replicas)).toBe(1);
    expect(annHostOptionsFromMesh(replicas, 'b')).toMatchObject({ shard: 0, shardCount: 1 });
  });

  it('refuses a gap in the shard numbers, naming the field', () => {
    expect(() =>
      parseMeshConfig(
        meshWith([
          { name: 'a', port: 10, shard: 0 },
          { name: 'b', port: 11, shard: 2 },
        ]),
        'mesh.json',
      ),
    ).toThrow(/ann\.hosts\[1\]\.shard: shard 2 needs every shard 0\.\.2 to have a host, but no host has shard 1/);
    expect(() => parseMeshConfig(meshWith([{ name: 'a', port: 10, shard: 1 }]))).toThrow(
      /ann\.hosts\[0\]\.shard: .*no host has shard 0/,
    );
    expect(() => parseMeshConfig(meshWith([{ name: 'a', port: 10, shard: -1 }]))).toThrow(
      /ann\.hosts\[0\]\.shard: Number must be greater than or equal to 0/,
    );
    expect(() =>
      parseMeshConfig(
        meshWith([
          { name: 'a', port: 10 },
          { name: 'a', port: 11 },
        ]),
      ),
    ).toThrow(/ann\.hosts\[1\]\.name: duplicate ANN host "a"/);
  });

  it('the shipped config runs hosts a and b as two replicas of one shard', () => {
    const mesh = loadMeshConfig('config/mesh.json');
    expect(annShardCount(mesh)).toBe(1);
    expect(mesh.ann!.hosts.map((h) => h.shard)).toEqual(mesh.ann!.hosts.map(() => 0));
  });

  it('on Kubernetes, pod ann-N keeps the shard of ann.hosts[N], and the StatefulSet runs one pod per host', () => {
    const cluster = clusterMeshConfig(twoByTwo, k8s) as { ann: { hosts: { name: string; shard: number }[] } };
    expect(cluster.ann.hosts.map((h) => [h.name, h.shard])).toEqual([
      ['ann-0', 0],
      ['ann-1', 1],
      ['ann-2', 0],
      ['ann-3', 1],
    ]);
    // The cluster config is itself valid, and each pod is told its shard.
    const reparsed = parseMeshConfig(cluster);
    expect(annHostOptionsFromMesh(reparsed, 'ann-3')).toMatchObject({ shard: 1, shardCount: 2 });
    const statefulSet = k8sManifests(twoByTwo, k8s).find(
      (o) => o.kind === 'StatefulSet' && o.metadata.name === 'ann',
    ) as unknown as { spec: { replicas: number } };
    expect(statefulSet.spec.replicas).toBe(4);
  });
});
