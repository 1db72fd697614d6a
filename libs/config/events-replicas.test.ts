import { describe, expect, it } from 'vitest';
import { parseMeshConfig } from './mesh.js';
import { eventsOwnershipOf, replicaPortOf } from './events-replicas.js';

const withEvents = (events: Record<string, unknown>) => ({
  world: { preset: 'tiny', seed: 1, dir: 'world' },
  services: {
    events: {
      port: 1,
      address: 'dns:///events.feedloom:1',
      backend: 'jetstream',
      jetstream: { partitions: 4, managed: false },
      ...events,
    },
    blender: { port: 2 },
  },
  generators: [{ name: 'popular', port: 3 }],
});
const parse = (events: Record<string, unknown>) => parseMeshConfig(withEvents(events), 'mesh.json');

describe('events replicas (services.events.replicas)', () => {
  it('gives partition p to replica p mod N when no replica lists partitions', () => {
    const mesh = parse({ replicas: [{ address: 'events-0:50100' }, { address: 'events-1:50100' }] });
    expect(eventsOwnershipOf(mesh.services.events, 1)).toEqual({
      self: 1,
      owners: [0, 1, 0, 1],
      addresses: ['events-0:50100', 'events-1:50100'],
    });
  });

  it('takes listed partitions, and the port of its own address', () => {
    const mesh = parse({
      replicas: [
        { address: '127.0.0.1:7001', partitions: [3, 0] },
        { address: '127.0.0.1:7002', partitions: [1, 2] },
      ],
    });
    const ownership = eventsOwnershipOf(mesh.services.events, 0)!;
    expect(ownership.owners).toEqual([0, 1, 1, 0]);
    expect(replicaPortOf(ownership)).toBe(7001);
    expect(eventsOwnershipOf(parse({}).services.events, undefined)).toBeUndefined();
  });

  it('refuses a config where a partition is owned twice, by none, or out of range, naming the field and the rule', () => {
    const two = (a: number[], b: number[]) => [
      { address: 'a:1', partitions: a },
      { address: 'b:1', partitions: b },
    ];
    expect(() => parse({ replicas: two([0, 1], [1, 2, 3]) })).toThrow(
      /services\.events\.replicas\[1\]\.partitions\[0\]: partition 1 is already owned by replica 0; each is owned once/,
    );
    expect(() => parse({ replicas: two([0, 1], [2]) })).toThrow(
      /services\.events\.replicas: partitions 3 have no owner; every partition needs one/,
    );
    expect(() => parse({ replicas: two([0, 1], [2, 3, 4]) })).toThrow(
      /services\.events\.replicas\[1\]\.partitions\[2\]: partition 4 is out of range: the stream has 4 \(0\.\.3\)/,
    );
    expect(() => parse({ replicas: [{ address: 'a:1', partitions: [0, 1] }, { address: 'b:1' }] })).toThrow(
      /services\.events\.replicas: set partitions on every replica or on none/,
    );
    expect(() => parse({ replicas: [1, 2, 3, 4, 5].map((i) => ({ address: `e${i}:1` })) })).toThrow(
      /services\.events\.replicas: 5 replicas for 4 partitions \(services\.events\.jetstream\.partitions\): replicas 4\.\. would own none/,
    );
    expect(() => parse({ replicas: [{ adress: 'a:1' }] })).toThrow(
      /services\.events\.replicas\[0\]: Unrecognized key\(s\) in object: 'adress'/,
    );
    expect(() => parse({ replicas: [{ address: 'a' }] })).toThrow(
      /services\.events\.replicas\[0\]\.address: must end in :port/,
    );
    expect(() => parse({ backend: 'file', replicas: [{ address: 'a:1' }] })).toThrow(
      /services\.events\.replicas: replicas own partitions of the JetStream stream: set services\.events\.backend to "jetstream"/,
    );
  });

  it('claims the ports of the replicas on the shared host, with their admin ports and metrics endpoints', () => {
    expect(() => parse({ replicas: [{ address: '127.0.0.1:7001' }, { address: '127.0.0.1:2' }] })).toThrow(
      /services\.blender\.port: port 2 is already used by services\.events\.replicas\[1\]/,
    );
    // Replica 1's metrics endpoint (6001 + 1000) on replica 0's port.
    expect(() => parse({ replicas: [{ address: '127.0.0.1:7001' }, { address: '127.0.0.1:6001' }] })).toThrow(
      /telemetry\.metricsPortOffset: port 7001 is already used by services\.events\.replicas\[0\]/,
    );
    // Callers reach events on services.events.port unless it has an address: a replica must listen there.
    expect(() => parse({ address: undefined, replicas: [{ address: '127.0.0.1:7001' }] })).toThrow(
      /services\.events\.port: no events replica listens on 127\.0\.0\.1:1, where callers reach the events service/,
    );
    expect(() => parse({ address: undefined, port: 7001, replicas: [{ address: '127.0.0.1:7001' }] })).not.toThrow();
    // Elsewhere (another host, a DNS name): no claim; nor is events.port, which no replica listens on.
    expect(() =>
      parse({ port: 2, replicas: [{ address: 'events-0.events:2' }, { address: '10.0.0.2:2' }] }),
    ).not.toThrow();
  });

  it('needs to know which replica a process is', () => {
    const { events } = parse({ replicas: [{ address: 'a:1' }, { address: 'b:1' }] }).services;
    expect(() => eventsOwnershipOf(events, undefined)).toThrow(
      /services\.events\.replicas lists 2 replicas: say which one this process is with --replica INDEX or FEEDLOOM_EVENTS_REPLICA \(0\.\.1; got none\)/,
    );
    expect(() => eventsOwnershipOf(events, 2)).toThrow(/\(0\.\.1; got 2\)/);
  });
});
