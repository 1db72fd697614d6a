import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { UserContext } from '../../generated/feedloom/v1/common.js';
import {
  CandidateGeneratorClient,
  CandidateGeneratorService,
  DescribeResponse,
  type GenerateResponse,
} from '../../generated/feedloom/v1/generator.js';
import { connect } from './client.js';
import { ServerLimitsSchema, serverChannelOptions } from '../config/server-limits.js';
import { bindService, startServer, type CallContext, type RunningServer } from './server.js';

const answer = { generator: 'limits-test', candidates: [], snapshotVersion: 's' } as unknown as GenerateResponse;
const request = { user: UserContext.fromPartial({ userId: 'u1' }), quota: 1, requestId: '' };

describe('server-side limits', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function serve(
    limits: Record<string, number>,
    generate: (ctx: CallContext) => Promise<GenerateResponse>,
  ): Promise<CandidateGeneratorClient> {
    const server: RunningServer = await startServer({
      name: 'limits-test',
      port: 0,
      limits: ServerLimitsSchema.parse(limits),
      services: [
        bindService(CandidateGeneratorService, {
          generate: (_, ctx) => generate(ctx),
          describe: () => DescribeResponse.fromPartial({ name: 'limits-test' }),
        }),
      ],
    });
    const client = connect(CandidateGeneratorClient, server.address, { inProcess: false });
    cleanup.push(
      () => server.stop(100),
      () => client.close(),
    );
    return client;
  }

  const call = (client: CandidateGeneratorClient, deadline?: number) =>
    new Promise<{ code: status; ms: number }>((resolve) => {
      const started = Date.now();
      client.generate(request, new Metadata(), { deadline: deadline ?? Infinity }, (err: ServiceError | null) =>
        resolve({ code: err ? err.code : status.OK, ms: Date.now() - started }),
      );
    });

  it('bounds a call without a deadline, or with a longer one, by maxDeadlineMs', async () => {
    const client = await serve({ maxDeadlineMs: 300 }, async (ctx) => {
      expect(ctx.deadline).toBeLessThanOrEqual(Date.now() + 300);
      // A handler that waits for its signal: without the bound it would wait forever.
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      return answer;
    });
    for (const deadline of [undefined, Date.now() + 3_600_000]) {
      const { code, ms } = await call(client, deadline);
      expect(code).toBe(status.DEADLINE_EXCEEDED);
      expect(ms).toBeLessThan(5_000);
    }
  });

  it('runs at most maxConcurrentStreams calls of one connection at once', async () => {
    let running = 0;
    let most = 0;
    const client = await serve({ maxConcurrentStreams: 2 }, async () => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, 200));
      running--;
      return answer;
    });
    const codes = await Promise.all([1, 2, 3, 4, 5].map(() => call(client, Date.now() + 10_000)));
    expect(codes.map((c) => c.code)).toEqual(new Array(5).fill(status.OK));
    expect(most).toBe(2);
  });

  it('maps the config to the grpc-js server options it names', () => {
    expect(
      serverChannelOptions(
        ServerLimitsSchema.parse({
          maxConcurrentStreams: 7,
          maxConnectionAgeMs: 60_000,
          maxConnectionAgeGraceMs: 5_000,
          maxConnectionIdleMs: 30_000,
          keepaliveTimeMs: 20_000,
          keepaliveTimeoutMs: 4_000,
        }),
      ),
    ).toEqual({
      'grpc.max_concurrent_streams': 7,
      'grpc.max_connection_age_ms': 60_000,
      'grpc.max_connection_age_grace_ms': 5_000,
      'grpc.max_connection_idle_ms': 30_000,
      'grpc.keepalive_time_ms': 20_000,
      'grpc.keepalive_timeout_ms': 4_000,
    });
  });

  it('refuses an unknown or out-of-range field, naming it', () => {
    expect(() => ServerLimitsSchema.parse({ maxDeadlinMs: 5 })).toThrow(/maxDeadlinMs/);
    expect(ServerLimitsSchema.safeParse({ maxDeadlineMs: 0 }).error?.issues[0].path).toEqual(['maxDeadlineMs']);
  });
});
