/**
 * JobSpec values made visible to SQL: scalars as session variables
 * (`getvariable('name')`), lists as TEMP parameter tables (`p_*`), see
 * docs/CONTRACTS.md. Values are bound or rendered through kysely literals,
 * never pasted into SQL text.
 */
import type { Session } from './session.ts';
import { ident, inline, lit, sql, compile } from './sql.ts';

export type Scalar = string | number | boolean | null;

export async function setVariables(session: Session, vars: Record<string, Scalar>): Promise<void> {
  for (const [name, value] of Object.entries(vars)) {
    // SET VARIABLE takes a constant expression; a typed literal keeps DOUBLE vs INTEGER intact.
    const expr = typeof value === 'number' && !Number.isInteger(value) ? sql`${lit(value)}::DOUBLE` : lit(value);
    await session.run(inline(sql`SET VARIABLE ${ident(name)} = ${expr}`));
  }
}

export interface ParamTable {
  name: string;
  /** column name -> DuckDB type */
  columns: Record<string, string>;
  rows: Scalar[][];
}

export async function createParamTable(session: Session, table: ParamTable): Promise<void> {
  const cols = Object.entries(table.columns).map(([c, t]) => sql`${ident(c)} ${sql.raw(assertType(t))}`);
  await session.run(inline(sql`CREATE OR REPLACE TEMP TABLE ${ident(table.name)} (${sql.join(cols)})`));
  if (!table.rows.length) return;
  const tuples = table.rows.map((r) => sql`(${sql.join(r.map((v) => sql`${v}`))})`);
  const c = compile(sql`INSERT INTO ${ident(table.name)} VALUES ${sql.join(tuples)}`);
  await session.conn.run(c.text, c.params as never);
}

/** Types come from our code, not from JobSpecs; still, only accept plain type names. */
function assertType(t: string): string {
  if (!/^[A-Z][A-Z0-9 ()]*$/.test(t)) throw new Error(`internal: bad column type ${t}`);
  return t;
}
