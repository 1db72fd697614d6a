/**
 * Ids (users, items, boards) as small integers: the per-user rings then hold numbers in typed
 * arrays rather than millions of strings, and each id's text is stored once.
 */
export class IdTable {
  private readonly indexOf = new Map<string, number>();
  private readonly names: string[] = [];

  get size(): number {
    return this.names.length;
  }

  /** The id's number, adding the id if it is new. */
  intern(id: string): number {
    let index = this.indexOf.get(id);
    if (index === undefined) {
      index = this.names.length;
      this.names.push(id);
      this.indexOf.set(id, index);
    }
    return index;
  }

  /** The id's number, or undefined: lookups never grow the table. */
  find(id: string): number | undefined {
    return this.indexOf.get(id);
  }

  name(index: number): string {
    return this.names[index];
  }
}
