import { z } from 'zod';

/** Identifiers that become column names (FEATURES.md / ARCHITECTURE.md Configuration). */
export const COLUMN_IDENT = /^[a-z][a-z0-9_]{0,62}$/;
/** Port-set names are suffixed with `_port_sessions_cnt`, so they are shorter (FEATURES.md §1.2). */
export const PORT_SET_IDENT = /^[a-z][a-z0-9_]{0,40}$/;

export const columnIdent = z
  .string()
  .regex(COLUMN_IDENT, { message: `must be an identifier matching ${COLUMN_IDENT}` });
export const portSetIdent = z
  .string()
  .regex(PORT_SET_IDENT, { message: `must be an identifier matching ${PORT_SET_IDENT}` });
