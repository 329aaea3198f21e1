import { loreUrl } from '../domain/message-id.ts'
import { KsftError } from '../errors.ts'
import type { MachineRef, SeriesRef, VersionRow } from '../storage/rows.ts'
import type { StoreTrends } from '../storage/store.ts'

/**
 * What a request names, found in the store or refused with the API's error: the lookups every
 * route that takes a series, a machine or a collection shares.
 */

/** A series by id, or by its name (or any title it was uploaded under) when the parameter is not a number. */
export async function findSeries (trends: StoreTrends, idOrName: string): Promise<SeriesRef> {
  const series = /^\d+$/.test(idOrName) ? await trends.seriesById(Number(idOrName)) : await trends.seriesByName(idOrName)
  if (!series) throw new KsftError('SERIES_NOT_FOUND', `no series ${JSON.stringify(idOrName)}`)
  return series
}

export async function findMachine (trends: StoreTrends, name: string | undefined): Promise<MachineRef | null> {
  if (name === undefined) return null
  const machine = await trends.machineByName(name)
  if (!machine) throw new KsftError('MACHINE_NOT_FOUND', `machine: no machine named ${JSON.stringify(name)}`)
  return machine
}

export async function findCollection (trends: StoreTrends, collection: string | undefined): Promise<string | null> {
  if (collection === undefined) return null
  if (!await trends.hasCollection(collection)) throw new KsftError('COLLECTION_NOT_FOUND', `collection: no test of collection ${JSON.stringify(collection)} was ever stored`)
  return collection
}

export function versionRef (version: VersionRow) {
  return { id: version.id, label: version.label, messageId: version.messageId, loreUrl: loreUrl(version.messageId) }
}
