// The part of autocannon's API the benchmark uses; the package ships no types.
declare module 'autocannon' {
  interface Histogram {
    average: number
    total: number
    p50: number
    p99: number
  }
  interface Result {
    requests: Histogram
    latency: Histogram
    errors: number
    timeouts: number
    mismatches: number
    non2xx: number
    statusCodeStats: Record<string, { count: number }>
  }
  interface Options {
    url: string
    connections?: number
    duration?: number
    headers?: Record<string, string>
    expectBody?: string
  }
  function autocannon (options: Options): Promise<Result>
  export default autocannon
}
