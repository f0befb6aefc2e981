/**
 * Summarize DuckDB JSON profiles written with NDR_SQL_PROFILE_DIR=DIR:
 *   npx tsx bench/profile-top.ts DIR/*.json [--top 15]
 * prints each statement's latency and CPU, then its most expensive operators.
 */
import { readFileSync } from 'node:fs';

interface Node {
  operator_name?: string;
  operator_type?: string;
  operator_timing?: number;
  operator_cardinality?: number;
  extra_info?: Record<string, unknown>;
  children?: Node[];
}

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 15;

function operators(n: Node, depth: number, out: { n: Node; depth: number }[]) {
  out.push({ n, depth });
  for (const c of n.children ?? []) operators(c, depth + 1, out);
  return out;
}

for (const file of args) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Node & { latency?: number; cpu_time?: number };
  console.log(`${file}: latency ${p.latency?.toFixed(3)} s, cpu ${p.cpu_time?.toFixed(3)} s`);
  const ops = (p.children ?? []).flatMap((c) => operators(c, 0, []));
  for (const { n, depth } of ops.sort((a, b) => (b.n.operator_timing ?? 0) - (a.n.operator_timing ?? 0)).slice(0, top)) {
    const info = JSON.stringify(n.extra_info ?? {}).slice(0, 110);
    console.log(`  ${(n.operator_timing ?? 0).toFixed(3)} s  depth ${depth}  ${n.operator_name ?? n.operator_type}  rows ${n.operator_cardinality}  ${info}`);
  }
}
