import { endianness } from 'node:os'

/**
 * Outcome sets, whichever database keeps them: a cell (a case on one machine in one version, over
 * its runs) is the number `case_id * 8 + bits`, the bits saying whether some result passed, some
 * failed, some showed kernel trouble (queries/verdict.ts PASSED, FAILED, TROUBLED). A set is a
 * version's cells on one machine in case order; compare and flaky read them.
 */

/** Outcome bits per cell: the case id is the number shifted past them. */
export const CELL_SHIFT = 3

export function caseOfCell (cell: number): number {
  return cell >>> CELL_SHIFT
}

export function bitsOfCell (cell: number): number {
  return cell & ((1 << CELL_SHIFT) - 1)
}

export function cellOf (caseId: number, bits: number): number {
  return caseId * (1 << CELL_SHIFT) + bits
}

const LITTLE_ENDIAN = endianness() === 'LE'

/**
 * An outcome set (see outcome_sets in migrations/003-trend-aggregates.sql, re-encoded by 005) as
 * numbers `case_id * 8 + bits`, in case order. Case ids stay below 2^29 for that to fit.
 */
export function decodeOutcomeSet (blob: Buffer): Uint32Array {
  const cells = new Uint32Array(blob.length >>> 2)
  const bytes = Buffer.from(cells.buffer)
  blob.copy(bytes, 0, 0, cells.length * 4)
  // one native byte swap: flaky decodes every set of a series, a million numbers on a big store
  if (LITTLE_ENDIAN) bytes.swap32()
  return cells
}
