import { status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../generated/feedloom/v1/common.js';
import {
  CandidateGeneratorClient,
  CandidateGeneratorService,
  DescribeResponse,
  type GenerateRequest,
  type GenerateResponse,
} from '../../generated/feedloom/v1/generator.js';
import { callUnary, connect } from './client.js';
import { invalidArgument } from './errors.js';
import { loopbackPort, localCallCount } from './in-process.js';
import { bindService, startServer, type CallContext, type RunningServer } from './server.js';

// A generator whose answer says what its handler saw: the request id, the quota, the deadline.
const seen: { ctx: CallContext; request: GenerateRequest }[] = [];
async function generate(request: GenerateRequest, ctx: CallContext): Promise<GenerateResponse> {
  seen.push({ ctx, request });
  if (request.quota <= 0) throw invalidArgument('quota', `must be at least 1 (got ${request.quota})`);
  if (request.requestId === 'slow') await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
  return {
    generator: `quota=${request.quota}`,
    candidates: [{ itemId: `for-${ctx.requestId}`, score: 1 }],
    snapshotVersion: 's',
  } as GenerateResponse;
}

const describe_ = () => DescribeResponse.fromPartial({ name: 'in-process-test' });

describe('in-process calls between servers of one process', () => {
  let server: RunningServer;
  const clients: CandidateGeneratorClient[] = [];
  const client = () => {
    const c = connect(CandidateGeneratorClient, server.address);
    clients.push(c);
    return c;
  };
  const request = (over: Partial<GenerateRequest> = {}): GenerateRequest => ({
    user: UserContext.fromPartial({ userId: 'u1' }),
    quota: 5,
    requestId: 'r',
    ...over,
  });

  beforeAll(async () => {
    server = await startServer({
      name: 'test.inproc',
      port: 0,
      services: [bindService(CandidateGeneratorService, { generate, describe: describe_ })],
      maxMessageBytes: 64 * 1024,
    });
  });
  afterEach(() => void delete process.env.FEEDLOOM_IN_PROCESS_CALLS);
  afterAll(async () => {
    for (const c of clients) c.close();
    await server.stop(100);
  });

  it('knows which addresses are this machine’s loopback', () => {
    expect(loopbackPort('127.0.0.1:5000')).toBe(5000);
    expect(loopbackPort('localhost:5001')).toBe(5001);
    expect(loopbackPort('[::1]:5002')).toBe(5002);
    expect(loopbackPort('10.0.0.3:5000')).toBeUndefined();
    expect(loopbackPort('dns:///generator-popular:50201')).toBeUndefined();
  });

  it('answers in-process as over the network: same response, request id carried', async () => {
    const before = localCallCount();
    const local = await callUnary(client(), 'generate', request(), { timeoutMs: 2_000, requestId: 'req-1' });
    expect(localCallCount()).toBe(before + 1);
    process.env.FEEDLOOM_IN_PROCESS_CALLS = '0';
    const remote = await callUnary(client(), 'generate', request(), { timeoutMs: 2_000, requestId: 'req-1' });
    expect(localCallCount()).toBe(before + 1);
    expect(local).toEqual(remote);
    expect(local.candidates[0].itemId).toBe('for-req-1');
  });

  it('gives the same status and message for a bad request both ways', async () => {
    const local = await callUnary(client(), 'generate', request({ quota: -1 }), { timeoutMs: 2_000 }).catch((e) => e);
    process.env.FEEDLOOM_IN_PROCESS_CALLS = '0';
    const remote = await callUnary(client(), 'generate', request({ quota: -1 }), { timeoutMs: 2_000 }).catch((e) => e);
    expect(local.code).toBe(status.INVALID_ARGUMENT);
    expect(local.details).toBe(remote.details);
    expect(local.details).toContain('quota');
  });

  it('ends a call at its deadline and aborts the handler', async () => {
    const started = Date.now();
    const err = await callUnary(client(), 'generate', request({ requestId: 'slow' }), { timeoutMs: 150 }).catch(
      (e) => e,
    );
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(1_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen[seen.length - 1].ctx.signal.aborted).toBe(true);
  });

  it('passes a caller’s cancel to the handler', async () => {
    const abort = new AbortController();
    const pending = callUnary(client(), 'generate', request({ requestId: 'slow' }), {
      timeoutMs: 5_000,
      signal: abort.signal,
    }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 50));
    abort.abort();
    expect((await pending).code).toBe(status.CANCELLED);
    expect(seen[seen.length - 1].ctx.signal.aborted).toBe(true);
  });

  it('refuses a request over the server’s size limit', async () => {
    const big = request({
      user: { ...request().user!, seenItems: Array.from({ length: 10_000 }, (_, i) => `item-${i}`) },
    });
    const err = await callUnary(client(), 'generate', big, { timeoutMs: 2_000 }).catch((e) => e);
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it('goes over the network once the server stops, which then answers UNAVAILABLE', async () => {
    const other = await startServer({
      name: 'test.inproc.stopped',
      port: 0,
      services: [bindService(CandidateGeneratorService, { generate, describe: describe_ })],
    });
    const c = connect(CandidateGeneratorClient, other.address);
    clients.push(c);
    expect((await callUnary(c, 'generate', request(), { timeoutMs: 2_000 })).candidates).toHaveLength(1);
    await other.stop(100);
    const before = localCallCount();
    const err = await callUnary(c, 'generate', request(), { timeoutMs: 2_000 }).catch((e) => e);
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(localCallCount()).toBe(before);
  });
});
