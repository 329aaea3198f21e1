import type pg from 'pg'

/** A column whose CHECK lists the values it takes. */
export interface CheckedColumn {
  table: string
  column: string
}

/**
 * Every column of the schema that a CHECK holds to a list of values (`x IN (...)`, or `<@ ARRAY[...]`
 * for a comma list), as the live catalog says: what a test compares with the code's vocabularies.
 */
export async function checkedColumns (db: pg.Pool | pg.PoolClient): Promise<CheckedColumn[]> {
  const { rows } = await db.query<CheckedColumn & { definition: string }>(`
    SELECT cl.relname AS table, a.attname AS column, pg_get_constraintdef(c.oid) AS definition
    FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    WHERE c.contype = 'c' AND cardinality(c.conkey) = 1 AND n.nspname = current_schema()
    ORDER BY cl.relname, a.attname`)
  return rows.filter(row => ARRAY_LITERAL.test(row.definition)).map(({ table, column }) => ({ table, column }))
}

/**
 * The values the CHECK of `table.column` allows, in the order it lists them, read back from the
 * catalog (pg_get_constraintdef). PostgreSQL keeps `status IN ('pass', ...)` as
 * `status = ANY (ARRAY['pass'::text, ...])`, and a comma list's check as `... <@ ARRAY[...]`: the
 * items of that one array. Numbers (a 0/1 flag's `IN (0, 1)`) come back as their digits.
 */
export async function checkedValues (db: pg.Pool | pg.PoolClient, table: string, column: string): Promise<string[]> {
  const { rows } = await db.query<{ definition: string }>(`
    SELECT pg_get_constraintdef(c.oid) AS definition
    FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    WHERE c.conrelid = to_regclass($1) AND c.contype = 'c' AND cardinality(c.conkey) = 1 AND a.attname = $2`, [table, column])
  const lists = rows.map(row => ARRAY_LITERAL.exec(row.definition)?.[1]).filter(list => list !== undefined)
  if (lists.length !== 1) throw new Error(`${table}.${column}: ${lists.length} CHECK constraints list values, expected 1`)
  return [...lists[0]!.matchAll(ARRAY_ITEM)].map(item => item[1]?.replaceAll("''", "'") ?? item[2]!)
}

/** `ARRAY[...]` of string literals (each with its `::type` cast) or integers. */
const ARRAY_LITERAL = /ARRAY\[((?:'(?:[^']|'')*'(?:::[\w ]+)?|-?\d+|,\s*)*)\]/
const ARRAY_ITEM = /'((?:[^']|'')*)'(?:::[\w ]+)?|(-?\d+)/g
