/**
 * Ready means warm: a server reports SERVING only after its hot path has run once on synthetic
 * requests, so the first real request is not the one that compiles the code, opens the channels
 * and fills the caches (and misses its deadline doing so).
 */
export interface WarmGate {
  /** Tell the gate whether the server has what it needs to serve (its data, its model). */
  update(ready: boolean): void;
  /**
   * Resolves once no warm-up is running: when it has run (whatever its outcome), or at once while
   * the server is not ready (it warms up when it becomes ready, later).
   */
  warming(): Promise<void>;
}

/**
 * Reports `setServing(true)` only when the server is ready and `warmUp` has run. The warm-up runs
 * once, when the server first becomes ready; its failure is logged, not fatal (real calls show it).
 */
export function warmGate(
  name: string,
  setServing: (serving: boolean) => void,
  warmUp: () => Promise<unknown>,
): WarmGate {
  let ready = false;
  let state: 'cold' | 'warming' | 'warm' = 'cold';
  let done: () => void = () => {};
  const warmed = new Promise<void>((resolve) => (done = resolve));
  const report = () => setServing(ready && state === 'warm');
  return {
    warming: () => (state === 'warming' ? warmed : Promise.resolve()),
    update(now: boolean) {
      ready = now;
      if (ready && state === 'cold') {
        state = 'warming';
        void Promise.resolve()
          .then(warmUp)
          .catch((err) => console.error(`[${name}] warm-up failed: ${(err as Error)?.message ?? err}`))
          .finally(() => {
            state = 'warm';
            report();
            done();
          });
      }
      report();
    },
  };
}
