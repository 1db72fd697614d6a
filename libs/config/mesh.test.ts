import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { admissionSettingsOf, ConfigError, loadMeshConfig, parseMeshConfig } from './mesh.js';

const valid = () => ({
  world: { preset: 'tiny', seed: 1, dir: 'world' },
  services: { events: { port: 1 }, blender: { port: 2 } },
  generators: [{ name: 'popular', port: 3 }],
});

describe('mesh config', () => {
  it('fills defaults', () => {
    const mesh = parseMeshConfig(valid());
    expect(mesh.generators[0]).toMatchObject({ enabled: true, quota: 200, deadlineMs: 60, weight: 1 });
    expect(mesh.host).toBe('127.0.0.1');
  });

  it('names the bad field and the rule', () => {
    const bad = valid();
    (bad.generators[0] as Record<string, unknown>).deadlineMs = -5;
    expect(() => parseMeshConfig(bad, 'mesh.json')).toThrow(
      /generators\[0\]\.deadlineMs: Number must be greater than or equal to 1/,
    );
  });

  it('takes the events backend ("file" by default, or "jetstream" with its broker) and names a typo by its path', () => {
    const events = (e: Record<string, unknown>) => ({
      ...valid(),
      services: { ...valid().services, events: { port: 1, ...e } },
    });
    expect(parseMeshConfig(valid()).services.events).toMatchObject({
      backend: 'file',
      jetstream: { servers: ['nats://127.0.0.1:4222'], stream: 'FEEDLOOM_EVENTS', partitions: 16, managed: true },
    });
    const js = parseMeshConfig(
      events({ backend: 'jetstream', jetstream: { servers: ['nats://10.0.0.5:4222'], partitions: 64 } }),
    );
    expect(js.services.events).toMatchObject({ backend: 'jetstream', jetstream: { partitions: 64, replicas: 1 } });
    expect(() => parseMeshConfig(events({ backend: 'kafka' }))).toThrow(
      /services\.events\.backend: Invalid enum value/,
    );
    expect(() => parseMeshConfig(events({ jetstream: { partitons: 4 } }))).toThrow(
      /services\.events\.jetstream: Unrecognized key\(s\) in object: 'partitons'/,
    );
    expect(() => parseMeshConfig(events({ jetstream: { servers: ['nats://a b'] } }))).toThrow(
      /services\.events\.jetstream\.servers\[0\]: must be host:port or nats:\/\/host:port/,
    );
    // The broker `up` starts claims its port like a service.
    expect(() =>
      parseMeshConfig(events({ backend: 'jetstream', jetstream: { servers: ['nats://127.0.0.1:3'] } })),
    ).toThrow(/generators\[0\]\.port: port 3 is already used by the managed nats-server/);
  });

  it('fills the schedule with its defaults and names a bad interval or a typo in it by its path', () => {
    expect(parseMeshConfig(valid()).schedule).toEqual({
      batch: { enabled: true, every: '15m' },
      compaction: { enabled: true, every: '1d', closedAfter: '1h', idleFor: '10m' },
      retrain: { enabled: true, every: '6h', rollout: true, force: false },
      leaseTtl: '1m',
    });
    expect(() => parseMeshConfig({ ...valid(), schedule: { batch: { every: '15' } } })).toThrow(
      /schedule\.batch\.every: the interval must be a number with a unit s, m, h or d/,
    );
    expect(() => parseMeshConfig({ ...valid(), schedule: { retrain: { evry: '6h' } } })).toThrow(
      /schedule\.retrain: Unrecognized key\(s\) in object: 'evry'/,
    );
  });

  it('runs the world clock at world.clockSpeed (default 1), and names a typo or a bad speed by its path', () => {
    expect(parseMeshConfig(valid()).world.clockSpeed).toBe(1);
    const world = valid().world;
    expect(parseMeshConfig({ ...valid(), world: { ...world, clockSpeed: 1440 } }).world.clockSpeed).toBe(1440);
    expect(() => parseMeshConfig({ ...valid(), world: { ...world, clockSped: 1440 } })).toThrow(
      /world: Unrecognized key\(s\) in object: 'clockSped'/,
    );
    expect(() => parseMeshConfig({ ...valid(), world: { ...world, clockSpeed: 0 } })).toThrow(
      /world\.clockSpeed: Number must be greater than 0/,
    );
  });

  it('fills the server limits with their defaults and names a bad one by its path', () => {
    expect(parseMeshConfig(valid()).serverLimits).toMatchObject({ maxDeadlineMs: 300_000, maxConcurrentStreams: 256 });
    expect(() => parseMeshConfig({ ...valid(), serverLimits: { maxDeadlineMs: 0 } })).toThrow(
      /serverLimits\.maxDeadlineMs: Number must be greater than or equal to 1/,
    );
    expect(() => parseMeshConfig({ ...valid(), serverLimits: { maxStreams: 5 } })).toThrow(
      /serverLimits: Unrecognized key\(s\) in object: 'maxStreams'/,
    );
  });

  it('takes a latency target per generator (none by default) and the quota controller, naming a bad one by its path', () => {
    const mesh = parseMeshConfig(valid());
    expect(mesh.generators[0].latencyTargetMs).toBeUndefined();
    expect(mesh.services.blender.adaptiveQuota).toEqual({
      windowCalls: 100,
      decreaseFactor: 0.5,
      minShare: 0.1,
      increaseStep: 0.1,
      recoverBelow: 0.8,
    });
    const withTarget = (latencyTargetMs: number) =>
      parseMeshConfig({ ...valid(), generators: [{ name: 'popular', port: 3, deadlineMs: 80, latencyTargetMs }] });
    expect(withTarget(50).generators[0].latencyTargetMs).toBe(50);
    expect(() => withTarget(90)).toThrow(
      /generators\[0\]\.latencyTargetMs: must be at most its deadlineMs \(80\): its calls are cut there/,
    );
    const blender = (adaptiveQuota: unknown) =>
      parseMeshConfig({ ...valid(), services: { ...valid().services, blender: { port: 2, adaptiveQuota } } });
    expect(blender({ windowCalls: 20 }).services.blender.adaptiveQuota).toMatchObject({
      windowCalls: 20,
      minShare: 0.1,
    });
    expect(() => blender({ decreaseFactor: 1 })).toThrow(
      /services\.blender\.adaptiveQuota\.decreaseFactor: Number must be less than 1/,
    );
    expect(() => blender({ windowCals: 20 })).toThrow(
      /services\.blender\.adaptiveQuota: Unrecognized key\(s\) in object: 'windowCals'/,
    );
  });

  it('rejects unknown fields, a kind (it lives in the generator module), duplicate names and clashing ports', () => {
    const bad = valid() as Record<string, any>;
    bad.generators.push({ name: 'popular', kind: 'magic', port: 2, typo: 1 });
    let error: ConfigError | undefined;
    try {
      parseMeshConfig(bad, 'mesh.json');
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.message).toMatch(/generators\[1\]: Unrecognized key\(s\) in object: 'kind', 'typo'/);
  });

  it('takes a user tower per kind of world, and names a typo or an unknown tower by its path', () => {
    expect(parseMeshConfig(valid()).retrain.twoTower.userTower).toEqual({ simulator: 'pooled', import: 'pooled' });
    const set = (userTower: unknown) => parseMeshConfig({ ...valid(), retrain: { twoTower: { userTower } } });
    expect(set({ import: 'sequence' }).retrain.twoTower.userTower).toEqual({ simulator: 'pooled', import: 'sequence' });
    expect(() => set({ imprt: 'sequence' })).toThrow(
      /retrain\.twoTower\.userTower: Unrecognized key\(s\) in object: 'imprt'/,
    );
    expect(() => set({ simulator: 'lstm' })).toThrow(
      /retrain\.twoTower\.userTower\.simulator: Invalid enum value\. Expected 'pooled' \| 'sequence', received 'lstm'/,
    );
  });

  it('reports duplicates and port clashes once the shape is right', () => {
    const bad = valid();
    bad.generators.push({ name: 'popular', port: 2 });
    expect(() => parseMeshConfig(bad)).toThrow(
      /generators\[1\]\.name: duplicate generator "popular"[\s\S]*generators\[1\]\.port: port 2 is already used by services\.blender/,
    );
  });

  it('counts the admin ports and metrics endpoints as ports: a generator on one is refused', () => {
    const onAdmin = valid();
    // The blender's operations listen on its port + 3000, the events' metrics on its port + 1000.
    onAdmin.generators.push({ name: 'fresh', port: 3002 }, { name: 'trending', port: 1001 });
    expect(() => parseMeshConfig(onAdmin)).toThrow(
      /generators\[1\]\.port: port 3002 is already used by services\.blender's admin port[\s\S]*generators\[2\]\.port: port 1001 is already used by services\.events's metrics endpoint/,
    );
    // An explicit admin port that lands on a service's port.
    const explicit = { ...valid(), security: { adminPorts: { events: 3 } } };
    expect(() => parseMeshConfig(explicit)).toThrow(
      /security\.adminPorts\.events: port 3 is already used by generators\[0\] \(popular\)|generators\[0\]\.port: port 3 is already used by services\.events's admin port/,
    );
  });

  it('resolves the world dir against the config file and explains unreadable files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mesh-'));
    writeFileSync(join(dir, 'mesh.json'), JSON.stringify(valid()));
    expect(loadMeshConfig(join(dir, 'mesh.json')).world.dir).toBe(join(dir, 'world'));
    writeFileSync(join(dir, 'broken.json'), '{ nope');
    expect(() => loadMeshConfig(join(dir, 'broken.json'))).toThrow(/cannot read it as JSON/);
  });

  it('chooses the Blend concurrency by where the blender runs, unless the config sets it', () => {
    const unset = parseMeshConfig(valid());
    expect(admissionSettingsOf(unset, 'blend').concurrency).toBe(2); // beside the generators
    expect(admissionSettingsOf(unset, 'blend', { alone: true }).concurrency).toBe(8);
    expect(admissionSettingsOf(unset, 'generate', { alone: true }).concurrency).toBe(4);
    const set = parseMeshConfig({ ...valid(), admission: { blend: { concurrency: 3 } } });
    expect(admissionSettingsOf(set, 'blend', { alone: true }).concurrency).toBe(3);
    expect(admissionSettingsOf(set, 'blend').maxQueueMs).toBe(150);
  });

  it('the shipped config is valid', () => {
    expect(() => loadMeshConfig('config/mesh.json')).not.toThrow();
  });
});
