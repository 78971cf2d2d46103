/** xorshift32 (Marsaglia): a small, seeded, deterministic generator of uint32s for tests and benchmarks. */
export function xorshift32(seed: number, seedForZero = 0x9e3779b9): () => number {
  let s = seed >>> 0 || seedForZero // the state must never be 0
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s
  }
}
