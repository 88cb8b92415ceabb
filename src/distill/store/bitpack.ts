// Token ids packed with a fixed number of bits each, least significant bit first, as one bit stream
// (id j occupies bits j·b … j·b + b − 1 of the stream; byte 0 holds bits 0–7). ceil(log2 V) bits
// instead of 32 is what makes the compact encoding small: 18 bits for V = 151,936.
// The accumulator is a plain number: at most b + 7 ≤ 38 bits are held, far below 2^53.

/** Bytes that n ids of `bits` bits fill (the last byte's high bits are zero). */
export const packedBytes = (n: number, bits: number): number => Math.ceil((n * bits) / 8);

/** Writes ids into out[0 … packedBytes(n, bits)); each must be an integer in [0, 2^bits). */
export function packIds(ids: ArrayLike<number>, bits: number, out: Uint8Array): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 31)
    throw new RangeError(`packIds: bits must be 1..31, got ${bits}`);
  if (out.length < packedBytes(ids.length, bits))
    throw new RangeError(
      `packIds: ${ids.length} ids of ${bits} bits need ${packedBytes(ids.length, bits)} bytes, got ${out.length}`,
    );
  const limit = 2 ** bits;
  let acc = 0,
    scale = 1, // 2^held
    held = 0,
    o = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= limit)
      throw new RangeError(`packIds: id ${id} at ${i} does not fit in ${bits} bits (0..${limit - 1})`);
    acc += id * scale;
    held += bits;
    while (held >= 8) {
      out[o++] = acc % 256;
      acc = Math.floor(acc / 256);
      held -= 8;
    }
    scale = 2 ** held;
  }
  if (held > 0) out[o] = acc;
}

/** Reads n ids of `bits` bits from bytes (as packIds wrote them) into out. */
export function unpackIds(bytes: Uint8Array, bits: number, n: number, out: Int32Array = new Int32Array(n)): Int32Array {
  if (!Number.isInteger(bits) || bits < 1 || bits > 31)
    throw new RangeError(`unpackIds: bits must be 1..31, got ${bits}`);
  if (bytes.length < packedBytes(n, bits))
    throw new RangeError(`unpackIds: ${n} ids of ${bits} bits need ${packedBytes(n, bits)} bytes, got ${bytes.length}`);
  const mask = 2 ** bits;
  let acc = 0,
    held = 0,
    p = 0;
  for (let i = 0; i < n; i++) {
    while (held < bits) {
      acc += bytes[p++]! * 2 ** held;
      held += 8;
    }
    out[i] = acc % mask;
    acc = Math.floor(acc / mask);
    held -= bits;
  }
  return out;
}
