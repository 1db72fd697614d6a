// One day's events as growable typed columns (numbers only; ids become strings when written).

export const ACTION_CODE = { impression: 0, click: 1, save: 2, hide: 3 } as const;

export class EventBuffer {
  length = 0;
  user = new Int32Array(1024);
  item = new Int32Array(1024);
  action = new Uint8Array(1024);
  timeMs = new Float64Array(1024);
  /** -1 when the event has no board. */
  board = new Int32Array(1024);
  /** The session's number within the user's day. */
  session = new Int32Array(1024);
  position = new Int32Array(1024);
  source = new Uint8Array(1024);

  push(
    user: number,
    item: number,
    action: number,
    timeMs: number,
    board: number,
    session: number,
    position: number,
    source: number,
  ): void {
    if (this.length === this.user.length) this.grow();
    const n = this.length++;
    this.user[n] = user;
    this.item[n] = item;
    this.action[n] = action;
    this.timeMs[n] = timeMs;
    this.board[n] = board;
    this.session[n] = session;
    this.position[n] = position;
    this.source[n] = source;
  }

  clear(): void {
    this.length = 0;
  }

  private grow(): void {
    const size = this.user.length * 2;
    const grown = <T extends Int32Array | Uint8Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(size);
      b.set(a);
      return b;
    };
    this.user = grown(this.user);
    this.item = grown(this.item);
    this.action = grown(this.action);
    this.timeMs = grown(this.timeMs);
    this.board = grown(this.board);
    this.session = grown(this.session);
    this.position = grown(this.position);
    this.source = grown(this.source);
  }
}
