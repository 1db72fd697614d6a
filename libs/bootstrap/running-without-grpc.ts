// A mesh component that serves no gRPC (the broker, the scheduler) as a RunningServer: always
// SERVING, with only an address to show and a stop.
import { HealthState, ServingStatus } from './health.js';
import type { RunningServer } from './server.js';

export function runningWithoutGrpc(what: {
  name: string;
  port: number;
  address: string;
  stop(): Promise<void>;
}): RunningServer {
  const health = new HealthState();
  health.set('', ServingStatus.SERVING);
  return { ...what, health, setServing: () => {} };
}
