import { BinaryReader } from '@bufbuild/protobuf/wire';

/** Only short ASCII strings are interned: item ids, generator names, reasons; not free text. */
const MAX_INTERNED_BYTES = 64;
/** Past this many distinct strings the table starts again, so churning ids cannot grow it without bound. */
const MAX_ENTRIES = 1 << 18;

/** FNV-1a hash of the bytes → the strings with that hash (one, or several on a collision). */
const table = new Map<number, string | string[]>();
let entries = 0;

function sameAscii(s: string, buf: Uint8Array, start: number, len: number): boolean {
  if (s.length !== len) return false;
  for (let i = 0; i < len; i++) if (s.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}

function remember(hash: number, found: string | string[] | undefined, s: string): void {
  if (entries >= MAX_ENTRIES) {
    table.clear();
    entries = 0;
    found = undefined;
  }
  entries++;
  if (found === undefined) table.set(hash, s);
  else if (typeof found === 'string') table.set(hash, [found, s]);
  else found.push(s);
}

/**
 * A protobuf reader whose short ASCII strings come from one process-wide table: decoding a Blend's
 * ~4,400 candidates (the same item ids and reasons again and again) then makes no new strings, and
 * leaves the garbage collector nothing to promote. Decodes exactly what BinaryReader does.
 */
export class InterningReader extends BinaryReader {
  private readonly source: Uint8Array;

  constructor(buf: Uint8Array) {
    super(buf);
    this.source = buf;
  }

  override string(strict?: boolean): string {
    const at = this.pos;
    const len = this.uint32();
    const start = this.pos;
    const buf = this.source;
    if (len > MAX_INTERNED_BYTES || start + len > buf.length) {
      this.pos = at;
      return super.string(strict);
    }
    let hash = 0x811c9dc5;
    for (let i = 0; i < len; i++) {
      const b = buf[start + i];
      if (b > 0x7f) {
        this.pos = at;
        return super.string(strict);
      }
      hash = Math.imul(hash ^ b, 0x01000193);
    }
    this.pos = start + len;
    const found = table.get(hash);
    if (typeof found === 'string') {
      if (sameAscii(found, buf, start, len)) return found;
    } else if (found) {
      for (const s of found) if (sameAscii(s, buf, start, len)) return s;
    }
    const s = String.fromCharCode.apply(null, buf.subarray(start, start + len) as unknown as number[]);
    remember(hash, found, s);
    return s;
  }
}

/** A message's decoder reading through an InterningReader (for a method definition's deserializer). */
export const decodeInterned =
  <T>(message: { decode(input: BinaryReader): T }) =>
  (bytes: Uint8Array): T =>
    message.decode(new InterningReader(bytes));

/** `definition` with the named methods' responses decoded through an InterningReader (for a client). */
export function withInternedResponses<D extends Record<string, object>>(
  definition: D,
  messages: { [K in keyof D]?: { decode(input: BinaryReader): unknown } },
): D {
  const out: Record<string, object> = { ...definition };
  for (const [name, message] of Object.entries(messages))
    out[name] = { ...definition[name], responseDeserialize: decodeInterned(message!) };
  return out as D;
}
