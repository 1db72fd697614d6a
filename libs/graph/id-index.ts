/**
 * Dense numbering of string ids (0, 1, 2, … in first-seen order), so graph code can use typed
 * arrays instead of maps keyed by strings.
 */
export class IdIndex {
  private readonly index = new Map<string, number>();
  private readonly names: string[] = [];

  /** The id's number, adding it when new. */
  intern(id: string): number {
    let n = this.index.get(id);
    if (n === undefined) {
      n = this.names.length;
      this.index.set(id, n);
      this.names.push(id);
    }
    return n;
  }

  /** The id's number, or undefined when it was never interned. */
  get(id: string): number | undefined {
    return this.index.get(id);
  }

  /** The id a number stands for. */
  name(n: number): string {
    const id = this.names[n];
    if (id === undefined) throw new RangeError(`no id numbered ${n} (size ${this.names.length})`);
    return id;
  }

  get size(): number {
    return this.names.length;
  }
}
