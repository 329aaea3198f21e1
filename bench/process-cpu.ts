/**
 * CPU time of given processes, read from Linux's /proc: what lets the two-node measurement say
 * which of PostgreSQL, the ksft serve nodes and the uploaders used the machine's cores. Elsewhere
 * (no /proc) every reading is null and the split is left out.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'

let ticksPerSecond: number | undefined

function clockTicks (): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  return ticksPerSecond
}

interface ProcStat { ppid: number, ownTicks: number, reapedChildrenTicks: number }

/** Fields 4 and 14-17 of /proc/<pid>/stat; null once the process is gone. */
function procStat (pid: number): ProcStat | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // the command name (field 2) may hold spaces and parentheses: the fields after it follow its last ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const field = (n: number) => Number(fields[n - 3])
  return { ppid: field(4), ownTicks: field(14) + field(15), reapedChildrenTicks: field(16) + field(17) }
}

/** Seconds of CPU the processes have used so far, every thread of each counted; null where /proc is absent. */
export function processesCpuSeconds (pids: number[]): number | null {
  if (!existsSync('/proc/self/stat')) return null
  let ticks = 0
  for (const pid of pids) ticks += procStat(pid)?.ownTicks ?? 0
  return ticks / clockTicks()
}

/**
 * Seconds of CPU a server and all its children have used so far: its own, its children's that it
 * has reaped, and those of the children still running. For PostgreSQL's postmaster that is the
 * whole server, backends of connections already closed included. Null when the process is not
 * on this machine (a server KSFT_TEST_DATABASE_URL names elsewhere) or /proc is absent.
 */
export function serverCpuSeconds (serverPid: number): number | null {
  const server = procStat(serverPid)
  if (server === null) return null
  let ticks = server.ownTicks + server.reapedChildrenTicks
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const child = procStat(Number(entry))
    if (child?.ppid === serverPid) ticks += child.ownTicks
  }
  return ticks / clockTicks()
}

/**
 * The postmaster of a PostgreSQL backend, from the backend's pid (`pg_backend_pid()`): null when
 * no PostgreSQL process has that pid here, as for a server on another machine, where the pid may
 * be any local process's.
 */
export function localPostmaster (backendPid: number): number | null {
  let title: string
  try {
    title = readFileSync(`/proc/${backendPid}/cmdline`, 'utf8')
  } catch {
    return null
  }
  // a backend's title is "postgres: <user> <database> ..."; the postmaster's own command is its binary
  if (!title.startsWith('postgres: ')) return null
  return procStat(backendPid)?.ppid ?? null
}
