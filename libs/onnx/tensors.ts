/** Tensors as plain data, the form they cross thread boundaries in (ort.Tensor objects cannot). */

export type TensorType = 'float32' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export type TensorArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

export interface TensorData {
  type: TensorType;
  data: TensorArray;
  dims: readonly number[];
}

export type Feeds = Record<string, TensorData>;

const TYPE_OF: [new (...args: never[]) => TensorArray, TensorType][] = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [BigInt64Array, 'int64'],
  [Int32Array, 'int32'],
  [Int8Array, 'int8'],
  [Uint8Array, 'uint8'],
];

/** The tensor type a typed array stands for (Uint8Array: uint8, unless told it is bool). */
export function tensorTypeOf(data: TensorArray): TensorType {
  for (const [Ctor, type] of TYPE_OF) if (data instanceof Ctor) return type;
  throw new TypeError(`unsupported tensor data ${Object.prototype.toString.call(data)}`);
}

/** A tensor from a typed array and its dims, checking that they agree. */
export function tensor(data: TensorArray, dims: readonly number[], type: TensorType = tensorTypeOf(data)): TensorData {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== data.length)
    throw new RangeError(`tensor dims [${dims.join(', ')}] hold ${size} values, the data has ${data.length}`);
  return { type, data, dims: [...dims] };
}

/**
 * Makes every tensor own a whole ArrayBuffer of its own (copying views of larger or shared buffers)
 * and returns those buffers, ready to be moved to another thread with postMessage's transfer list.
 */
export function ownBuffers(tensors: Record<string, TensorData>): {
  tensors: Record<string, TensorData>;
  transfer: ArrayBuffer[];
} {
  const seen = new Set<ArrayBufferLike>();
  const out: Record<string, TensorData> = {};
  for (const [name, t] of Object.entries(tensors)) {
    let data = t.data;
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    if (!whole || seen.has(data.buffer) || !(data.buffer instanceof ArrayBuffer)) data = data.slice() as TensorArray;
    seen.add(data.buffer);
    out[name] = { type: t.type, data, dims: [...t.dims] };
  }
  return { tensors: out, transfer: [...seen] as ArrayBuffer[] };
}

/** Anything shaped like an ort.Tensor ({ type, data, dims }) as TensorData. */
export function fromTensorLike(t: { type: string; data: unknown; dims: readonly number[] }): TensorData {
  return { type: t.type as TensorType, data: t.data as TensorArray, dims: [...t.dims] };
}
