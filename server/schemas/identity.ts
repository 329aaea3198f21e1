import { Type } from 'typebox'

/** The admin's renames and merges of series and machines (docs/series.md). */

const named = Type.Object({ id: Type.Integer(), name: Type.String() })

export const MachineParamsSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 300, description: 'the machine name, URL-encoded' }),
})

export const RenameBodySchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 400, description: 'the new name, held to what an upload\'s would be (NFKC, one space, no control or invisible characters)' }),
}, { additionalProperties: false })

export const MergeIntoBodySchema = Type.Object({
  into: Type.String({ minLength: 1, maxLength: 300, description: 'the series (id or name) or machine (name) that stays' }),
}, { additionalProperties: false })

export const RenamedSchema = Type.Object({
  renamed: Type.Object({ id: Type.Integer(), from: Type.String(), to: Type.String() }),
})

export const SeriesMergeSchema = Type.Object({
  merged: Type.Object({
    from: named,
    into: named,
    versionsMoved: Type.Array(Type.String(), { description: 'versions the other series lacked, moved as they were' }),
    versionsMerged: Type.Array(Type.String(), { description: 'versions both had, folded together' }),
    runs: Type.Integer({ description: 'runs that now belong to the other series' }),
    issuesRematched: Type.Array(Type.Integer(), { description: 'known issues scoped to either series, matched again' }),
  }),
})

export const MachineMergeSchema = Type.Object({
  merged: Type.Object({
    from: named,
    into: named,
    runs: Type.Integer(),
    issuesRematched: Type.Array(Type.Integer()),
  }),
})
