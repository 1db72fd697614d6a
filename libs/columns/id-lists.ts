// Lists of ids per key id, with optional scores, as compressed sparse rows in shared memory: for
// "neighbours of item X" (item → items, user → users, board → items). Keys and listed ids are
// numbers of one SharedIds table; a key's list keeps the order its row gave.
import type { ScoredItem } from '../data/batch/job.js';
import { sharedFloat64, sharedInt32 } from './shared-arrays.js';
import { SharedIds, SharedIdsBuilder, type SharedIdsForm } from './shared-ids.js';

/** What crosses to a worker thread (postMessage): views of shared memory, not copied. */
export interface IdListsForm {
  ids: SharedIdsForm;
  /** Per id number: its list's row, or -1 when it has none. */
  rowOf: Int32Array;
  /** Length rows + 1: row r is entries offsets[r] .. offsets[r + 1]. */
  offsets: Int32Array;
  /** Id numbers of the listed ids. */
  targets: Int32Array;
  /** Parallel to targets; absent for unscored lists. Float64: answers stay exactly as from the rows. */
  scores?: Float64Array;
}

/** One key's list: a view, no copy. */
export interface IdList {
  readonly length: number;
  id(k: number): string;
  /** The k-th id's number in the table (for another lookup without decoding it). */
  node(k: number): number;
  /** 0 when the lists are unscored. */
  score(k: number): number;
}

const EMPTY: IdList = { length: 0, id: outOfRange, node: outOfRange, score: outOfRange };
function outOfRange(k: number): never {
  throw new RangeError(`list entry ${k} of an empty list`);
}

export class IdLists {
  readonly ids: SharedIds;

  constructor(
    private readonly columns: IdListsForm,
    ids?: SharedIds,
  ) {
    this.ids = ids ?? new SharedIds(columns.ids);
  }

  get form(): IdListsForm {
    return this.columns;
  }

  /** Whether key had a row (possibly an empty list). */
  has(key: string): boolean {
    const n = this.ids.get(key);
    return n !== undefined && this.columns.rowOf[n] >= 0;
  }

  /** key's list; empty when it has none. */
  list(key: string): IdList {
    const n = this.ids.get(key);
    return n === undefined ? EMPTY : this.at(n);
  }

  /** The list of the id numbered n; empty when it has none. */
  at(n: number): IdList {
    const row = this.columns.rowOf[n];
    if (row === undefined || row < 0) return EMPTY;
    const { offsets } = this.columns;
    return new ListView(this.ids, this.columns, offsets[row], offsets[row + 1] - offsets[row]);
  }
}

class ListView implements IdList {
  constructor(
    private readonly ids: SharedIds,
    private readonly columns: IdListsForm,
    private readonly start: number,
    readonly length: number,
  ) {}

  id(k: number): string {
    return this.ids.name(this.node(k));
  }

  node(k: number): number {
    if (!(k >= 0 && k < this.length)) throw new RangeError(`list entry ${k} of ${this.length}`);
    return this.columns.targets[this.start + k];
  }

  score(k: number): number {
    if (!(k >= 0 && k < this.length)) throw new RangeError(`list entry ${k} of ${this.length}`);
    return this.columns.scores ? this.columns.scores[this.start + k] : 0;
  }
}

/**
 * Collects one list per key while a snapshot's rows are read; several builders may share one
 * SharedIdsBuilder (one id table per snapshot). A key set twice keeps its last list, as a Map would.
 */
export class IdListsBuilder {
  private readonly keys: number[] = [];
  private readonly starts: number[] = [0];
  private readonly targets: number[] = [];
  private readonly scores: number[] = [];

  constructor(
    private readonly table: SharedIdsBuilder,
    private readonly scored: boolean,
  ) {}

  /** key's list: ids, and with scored lists their scores (parallel). */
  set(key: string, ids: readonly string[], scores?: readonly number[]): void {
    if (this.scored !== (scores !== undefined))
      throw new Error(`list of "${key}": ${this.scored ? 'scores missing' : 'scores given to unscored lists'}`);
    if (scores && scores.length !== ids.length)
      throw new Error(`list of "${key}": ${ids.length} ids but ${scores.length} scores`);
    this.keys.push(this.table.intern(key));
    for (const id of ids) this.targets.push(this.table.intern(id));
    if (scores) for (const s of scores) this.scores.push(s);
    this.starts.push(this.targets.length);
  }

  /** Every row's list: key(row) → its entries' ids (and scores, for scored lists). */
  setRows<Row, Entry>(
    rows: readonly Row[],
    key: (row: Row) => string,
    entries: (row: Row) => readonly Entry[],
    id: (entry: Entry) => string,
    score?: (entry: Entry) => number,
  ): void {
    for (const row of rows) {
      const list = entries(row);
      this.set(key(row), list.map(id), score && list.map(score));
    }
  }

  /** Lays the lists out in shared memory over the finished table (built from the same builder). */
  finish(ids: SharedIds): IdLists {
    const rowOf = sharedInt32(ids.size).fill(-1);
    for (let r = 0; r < this.keys.length; r++) rowOf[this.keys[r]] = r;
    // Only each key's last row is kept: count those, then copy them in key-row order.
    const kept: number[] = [];
    for (let r = 0; r < this.keys.length; r++) if (rowOf[this.keys[r]] === r) kept.push(r);
    const offsets = sharedInt32(this.keys.length + 1);
    let edges = 0;
    for (const r of kept) edges += this.starts[r + 1] - this.starts[r];
    const targets = sharedInt32(edges);
    const scores = this.scored ? sharedFloat64(edges) : undefined;
    let at = 0;
    for (let r = 0; r < this.keys.length; r++) {
      offsets[r] = at;
      if (rowOf[this.keys[r]] !== r) continue; // replaced by a later row: left empty
      for (let e = this.starts[r]; e < this.starts[r + 1]; e++, at++) {
        targets[at] = this.targets[e];
        if (scores) scores[at] = this.scores[e];
      }
    }
    offsets[this.keys.length] = at;
    return new IdLists({ ids: ids.form, rowOf, offsets, targets, scores }, ids);
  }
}

/** Lists of scored items (what most batch jobs write: item → neighbours), in a table of their own. */
export function scoredItemLists<Row>(
  rows: readonly Row[],
  key: (row: Row) => string,
  items: (row: Row) => readonly ScoredItem[],
): IdLists {
  const table = new SharedIdsBuilder();
  const lists = new IdListsBuilder(table, true);
  lists.setRows(
    rows,
    key,
    items,
    (n) => n.item_id,
    (n) => n.score,
  );
  return lists.finish(table.finish());
}
