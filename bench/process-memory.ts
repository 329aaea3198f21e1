import { readFileSync } from 'node:fs'

/** Resident memory of a process from /proc/<pid>/status, in bytes: now (VmRSS) and its peak so far (VmHWM). */
export function residentMemory (pid: number): { rss: number, peak: number } | null {
  let status: string
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return null
  }
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)
    return m ? Number(m[1]) * 1024 : 0
  }
  return { rss: field('VmRSS'), peak: field('VmHWM') }
}

/**
 * Polls a process's peak RSS until stop(): VmHWM is kept by the kernel, so a poll only has to land
 * before the process exits; polling often keeps the last reading close to the end.
 */
export function watchPeakMemory (pid: number, everyMs = 20): { stop: () => number } {
  let peak = 0
  const read = () => {
    const memory = residentMemory(pid)
    if (memory) peak = Math.max(peak, memory.peak)
  }
  read()
  const timer = setInterval(read, everyMs)
  return {
    stop: () => {
      read()
      clearInterval(timer)
      return peak
    },
  }
}
