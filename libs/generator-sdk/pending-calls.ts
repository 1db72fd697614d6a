// The calls a worker thread has not answered yet, by call id.
//
// A plain object rather than a Map: with a Map, each answered call's resolve function stayed
// reachable past scavenges after its entry was deleted, and with it the answer the call's promise
// was resolved with, and the answer's bytes, until the next Mark-Compact. That was ~8 kB of
// ArrayBuffer memory per generator call, and V8 starts a Mark-Compact for every 64 MB of it
// (docs/BENCHMARKS.md, "What starts the main thread's Mark-Compacts now").
export class PendingCalls<T> {
  private byId: Record<number, T> = Object.create(null);
  private count = 0;

  get size(): number {
    return this.count;
  }

  set(id: number, call: T): void {
    if (!(id in this.byId)) this.count++;
    this.byId[id] = call;
  }

  get(id: number): T | undefined {
    return this.byId[id];
  }

  delete(id: number): boolean {
    if (!(id in this.byId)) return false;
    delete this.byId[id];
    this.count--;
    return true;
  }

  /** Removes every call and returns them. */
  drain(): T[] {
    const calls = Object.values(this.byId);
    this.byId = Object.create(null);
    this.count = 0;
    return calls;
  }
}
