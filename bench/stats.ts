/** Small numeric helpers shared by the measurements. */

export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  // nearest rank: p95 of 20 samples is the 19th, an observed value rather than an interpolation
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]!
}

export function median (values: readonly number[]): number {
  return percentile(values, 50)
}

export function round (value: number, digits = 1): number {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}

export function mb (bytes: number): number {
  return bytes / 1e6
}

/** Wall-clock milliseconds of `work`. */
export async function timed<T> (work: () => Promise<T> | T): Promise<{ ms: number, value: T }> {
  const start = performance.now()
  const value = await work()
  return { ms: performance.now() - start, value }
}
