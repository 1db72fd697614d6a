// The grpcurl path: a reflection client (buf curl) lists services and calls them with JSON.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { activeUsers } from './fixtures/events.js';
import { testAdminToken, testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

const run = promisify(execFile);
const buf = (args: string[]) =>
  run('npx', ['--no-install', 'buf', 'curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args], {
    timeout: 30_000,
  });

describe('server reflection with a real reflection client (buf curl)', () => {
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  let generators: string[];
  let user: string;

  beforeAll(async () => {
    const world = await testWorld();
    const { mesh: config } = testMeshConfig(world);
    generators = config.generators.map((g) => g.name).sort();
    mesh = await startAllInOne(config, { ephemeralPorts: true });
    [user] = await activeUsers(world, 1);
  });
  afterAll(async () => mesh?.stop());

  const url = (component: string, path = '') => `http://${mesh.addresses.get(component)}${path}`;
  const blenderAdmin = () => mesh.servers.find((s) => s.name === 'blender')!.adminAddress!;

  it("lists each server's services", async () => {
    const generator = await buf(['--list-services', url('generator.popular')]);
    expect(generator.stdout.split('\n')).toEqual(
      expect.arrayContaining(['feedloom.v1.CandidateGenerator', 'grpc.health.v1.Health']),
    );
    const blender = await buf(['--list-services', url('blender')]);
    expect(blender.stdout).toContain('feedloom.v1.Blender');
    const events = await buf(['--list-services', url('events')]);
    expect(events.stdout).toContain('feedloom.v1.Events');
    const methods = await buf(['--list-methods', url('generator.popular')]);
    expect(methods.stdout).toContain('feedloom.v1.CandidateGenerator/Generate');
  });

  it('calls Generate with JSON', async () => {
    const body = JSON.stringify({ user: { user_id: user, request_time_ms: String(Date.UTC(2026, 0, 9)) }, quota: 5 });
    const { stdout } = await buf(['-d', body, url('generator.popular', '/feedloom.v1.CandidateGenerator/Generate')]);
    const response = JSON.parse(stdout);
    expect(response.generator).toBe('popular');
    expect(response.candidates).toHaveLength(5);
    expect(response.candidates[0].itemId).toMatch(/^i\d+$/);
  });

  it('calls Blend (the feed path) without a credential', async () => {
    const { stdout } = await buf([
      '-d',
      JSON.stringify({ user_id: user, limit: 10 }),
      url('blender', '/feedloom.v1.Blender/Blend'),
    ]);
    expect(JSON.parse(stdout).items).toHaveLength(10);
  });

  it('refuses a debug Blend without the admin token: unauthenticated', async () => {
    const result = await buf([
      '-d',
      JSON.stringify({ user_id: user, limit: 10, debug: true }),
      `http://${blenderAdmin()}/feedloom.v1.Blender/Blend`,
    ]).catch((err) => err);
    expect(result.stderr).toMatch(/unauthenticated/);
  });

  it("calls Blend with debug on the admin port, with the admin token, and reads each candidate's journey", async () => {
    const { stdout } = await buf([
      '-H',
      `authorization: Bearer ${testAdminToken()}`,
      '-d',
      JSON.stringify({ user_id: user, limit: 10, debug: true }),
      `http://${blenderAdmin()}/feedloom.v1.Blender/Blend`,
    ]);
    const response = JSON.parse(stdout);
    expect(response.items.length).toBe(10);
    expect(response.sources.map((s: { generator: string }) => s.generator).sort()).toEqual(generators);
    expect(response.debug.stages.map((s: { stage: string }) => s.stage)).toEqual([
      'hydrate',
      'fan_out',
      'dedupe',
      'filter',
      'pre_score',
      'rank',
      'compose_page',
    ]);
    expect(response.debug.journeys.length).toBeGreaterThanOrEqual(10);
  });

  it('answers the standard health check', async () => {
    const { stdout } = await buf([
      '-d',
      '{"service":"feedloom.v1.Blender"}',
      url('blender', '/grpc.health.v1.Health/Check'),
    ]);
    expect(JSON.parse(stdout).status).toBe('SERVING');
  });

  it('reports bad input as invalid_argument naming the field', async () => {
    const result = await buf([
      '-d',
      JSON.stringify({ user_id: '', limit: 10 }),
      url('blender', '/feedloom.v1.Blender/Blend'),
    ]).catch((err) => err);
    expect(result.stderr).toMatch(/invalid_argument/);
    expect(result.stderr).toMatch(/user_id: is required/);
  });
});
