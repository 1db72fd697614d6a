import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../generated/feedloom/v1/common.js';
import {
  CandidateGeneratorClient,
  CandidateGeneratorService,
  DescribeResponse,
  GenerateResponse,
} from '../../generated/feedloom/v1/generator.js';
import { callUnary, connect } from './client.js';
import { RpcError } from './errors.js';
import { bindService, startServer, type RunningServer } from './server.js';

// Two replicas of one generator on one port, on two loopback addresses: one refuses every call with
// UNAVAILABLE (as a replica that is going away or shedding load does), the other answers.
describe('a channel to several replicas', () => {
  const calls = { refusing: 0, answering: 0 };
  let refuse = false;
  let refusing: RunningServer;
  let answering: RunningServer;
  const replica = (name: keyof typeof calls, host: string, port: number) =>
    startServer({
      name: `test.${name}`,
      host,
      port,
      services: [
        bindService(CandidateGeneratorService, {
          generate: async (): Promise<GenerateResponse> => {
            calls[name]++;
            if (name === 'refusing' && refuse)
              throw new RpcError(status.UNAVAILABLE, 'going away: retry on another replica');
            return GenerateResponse.fromPartial({ generator: name, candidates: [{ itemId: 'i1', score: 1 }] });
          },
          describe: () => DescribeResponse.fromPartial({ name }),
        }),
      ],
    });

  beforeAll(async () => {
    answering = await replica('answering', '127.0.0.2', 0);
    refusing = await replica('refusing', '127.0.0.1', answering.port);
  });
  afterAll(async () => {
    await Promise.all([refusing?.stop(100), answering?.stop(100)]);
  });

  const generate = (client: CandidateGeneratorClient) =>
    callUnary(
      client,
      'generate',
      { user: UserContext.fromPartial({ userId: 'u1' }), quota: 5, requestId: 'r' },
      {
        timeoutMs: 2_000,
      },
    );

  it('retries a call refused with UNAVAILABLE once, on the next replica', async () => {
    const client = connect(CandidateGeneratorClient, `ipv4:127.0.0.1:${answering.port},127.0.0.2:${answering.port}`, {
      inProcess: false,
    });
    try {
      // Round robin picks among connected replicas only: call until both answered (bounded by time),
      // before the one starts refusing (failed attempts would spend the retry budget).
      const until = Date.now() + 5_000;
      while (!(calls.refusing > 0 && calls.answering > 0) && Date.now() < until) await generate(client);
      refuse = true;
      const before = calls.refusing;
      for (let i = 0; i < 4; i++) expect((await generate(client)).generator).toBe('answering');
      // Round robin did send calls to the refusing replica: each was answered by the other.
      expect(calls.refusing).toBeGreaterThan(before);
      // No retry storm: while most first attempts fail, the channel's retry budget runs out.
      const later = await Promise.all(
        Array.from({ length: 20 }, () =>
          generate(client).then(
            () => true,
            () => false,
          ),
        ),
      );
      expect(later).toContain(false);
    } finally {
      client.close();
    }
  });

  it('does not retry against a single server (host:port)', async () => {
    const client = connect(CandidateGeneratorClient, `127.0.0.1:${answering.port}`, { inProcess: false });
    const before = calls.refusing;
    refuse = true;
    try {
      const err = await generate(client).then(
        () => undefined,
        (e: { code: number }) => e,
      );
      expect(err?.code).toBe(status.UNAVAILABLE);
      expect(calls.refusing).toBe(before + 1);
    } finally {
      client.close();
    }
  });
});
