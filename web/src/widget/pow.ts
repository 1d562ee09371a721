// The visitor-pass proof of work (API.md, "Visitor passes"): the decimal nonce whose
// SHA-256(salt + nonce) starts with `difficulty` zero bits. Shared by the worker and the
// main-thread fallback.
export function leadingZeroBits(hash: Uint8Array): number {
  let bits = 0;
  for (const byte of hash) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** Tries nonces from `start` in batches of concurrent digests until one has `difficulty` zero bits. */
export async function solve(salt: string, difficulty: number, start = 0, batch = 256): Promise<string> {
  const encoder = new TextEncoder();
  for (let base = start; ; base += batch) {
    const digests = await Promise.all(
      Array.from({ length: batch }, (_, i) => crypto.subtle.digest('SHA-256', encoder.encode(salt + String(base + i)))),
    );
    for (let i = 0; i < batch; i++) {
      if (leadingZeroBits(new Uint8Array(digests[i])) >= difficulty) return String(base + i);
    }
  }
}
