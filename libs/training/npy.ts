// A tiny .npy (NumPy format 1.0) writer and reader for the typed arrays the trainer exchanges.
import fs from 'node:fs/promises';

export type NpyArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

const DESCR: Array<[new (...args: never[]) => NpyArray, string]> = [
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
  [Int32Array, '<i4'],
  [BigInt64Array, '<i8'],
  [Uint8Array, '|u1'],
];

function descrOf(data: NpyArray): string {
  for (const [ctor, descr] of DESCR) if (data instanceof ctor) return descr;
  throw new Error(`npy: unsupported array type ${(data as object).constructor.name}`);
}

/** The bytes of a .npy file holding data with the given shape (C order). */
export function encodeNpy(data: NpyArray, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length)
    throw new Error(`npy: shape [${shape.join(', ')}] holds ${count} values, the array has ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descrOf(data)}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

export async function writeNpy(file: string, data: NpyArray, shape: readonly number[] = [data.length]): Promise<void> {
  await fs.writeFile(file, encodeNpy(data, shape));
}

export interface NpyFile {
  data: NpyArray;
  shape: number[];
  descr: string;
}

/** Parses .npy bytes (format 1.x/2.x, little-endian, C order). */
export function decodeNpy(bytes: Uint8Array, source = '(bytes)'): NpyFile {
  if (bytes[0] !== 0x93 || Buffer.from(bytes.subarray(1, 6)).toString('latin1') !== 'NUMPY')
    throw new Error(`npy: ${source} is not a .npy file`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = Buffer.from(bytes.subarray(start, start + headerLen)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || fortran === undefined || shapeText === undefined)
    throw new Error(`npy: ${source} has an unreadable header: ${header.trim()}`);
  if (fortran === 'True') throw new Error(`npy: ${source} is in Fortran order`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  // A copy (Buffer#slice would be a view into a shared pool), aligned for the typed array.
  const body = Uint8Array.prototype.slice.call(bytes, offset);
  const make: Record<string, (b: ArrayBuffer) => NpyArray> = {
    '<f4': (b) => new Float32Array(b, 0, count),
    '<f8': (b) => new Float64Array(b, 0, count),
    '<i4': (b) => new Int32Array(b, 0, count),
    '<i8': (b) => new BigInt64Array(b, 0, count),
    '|u1': (b) => new Uint8Array(b, 0, count),
  };
  const ctor = make[descr];
  if (!ctor) throw new Error(`npy: ${source} has dtype ${descr}; supported: ${Object.keys(make).join(', ')}`);
  const elementBytes = Number(descr.slice(2));
  if (body.byteLength < count * elementBytes)
    throw new Error(`npy: ${source} is truncated (${body.byteLength} bytes of data for ${count} values of ${descr})`);
  return { data: ctor(body.buffer), shape, descr };
}

export async function readNpy(file: string): Promise<NpyFile> {
  return decodeNpy(await fs.readFile(file), file);
}
