import {
  CandidateGeneratorClient,
  type DescribeResponse,
  type GenerateResponse,
} from '../../generated/feedloom/v1/generator.js';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import { callUnary, connect } from '../bootstrap/client.js';
import type { GeneratorModule } from './define.js';
import { serveGenerator } from './serve.js';

/** A generator served on an ephemeral port for a test, with a real gRPC client. */
export async function startGeneratorForTest<Data>(
  module: GeneratorModule<Data>,
  snapshotsDir: string,
  settings: Record<string, unknown> = {},
) {
  const server = await serveGenerator(module, { snapshotsDir, settings, port: 0, pollMs: 60_000 });
  const client = connect(CandidateGeneratorClient, server.address);
  return {
    server,
    client,
    generate: (user: UserContext, quota = 100): Promise<GenerateResponse> =>
      callUnary(client, 'generate', { user, quota, requestId: 'test' }, { timeoutMs: 5_000 }),
    describe: (): Promise<DescribeResponse> => callUnary(client, 'describe', {}, { timeoutMs: 5_000 }),
    async stop() {
      client.close();
      await server.stop(100);
    },
  };
}
