/**
 * Freshness and the "why" of a plan: a partition is up to date when the same templates, the
 * same JobSpecs and the same inputs would produce it again; when it is not, `plan --verbose`
 * says what changed.
 */
import { describe, expect, it } from 'vitest';
import { partitionState, planEntry, staleReason, type Expected } from '../../src/pipeline/freshness.ts';
import type { Manifest } from '../../src/storage/manifest.ts';

const P = 'fg_a/feature_spec_version=v1/dt=2026-11-24/hh=12/mm=00';

function manifest(over: Partial<Manifest> = {}): Manifest {
  return {
    dataset: 'fg_a',
    partition: P,
    partition_values: { dt: '2026-11-24', hh: '12', mm: '00' },
    feature_spec_version: 'v1',
    run_id: 'r1',
    created_at: '2026-11-25T00:00:00Z',
    files: [],
    row_count: 0,
    columns: [],
    template: [
      { name: 'fg_a', sha256: 'a1' },
      { name: 'ip_dim', sha256: 'd1' },
    ],
    jobspec_sha256: 'j1',
    inputs: [
      { dataset: 'delta', partition: 'window of 2026-11-24T12:15:00Z', fingerprint: 'x1' },
      { dataset: 'delta_peers', partition: 'window of 2026-11-24T12:15:00Z', fingerprint: 'y1' },
    ],
    dq: {},
    missing_optional_fields: [],
    engine: { ndr_sql: '0', duckdb: 'v1.5.6' },
    timings_ms: {},
    ...over,
  };
}

const same = (m: Manifest): Expected => ({ templates: m.template, jobspecSha256: m.jobspec_sha256, inputs: m.inputs });

describe('freshness', () => {
  it('the same templates, JobSpecs and inputs (in any order) are up to date; no manifest is missing', () => {
    const m = manifest();
    expect(partitionState(m, same(m))).toBe('up_to_date');
    expect(partitionState(m, { ...same(m), templates: [...m.template].reverse(), inputs: [...m.inputs].reverse() })).toBe('up_to_date');
    expect(partitionState(undefined, same(m))).toBe('missing');
    expect(planEntry(P, undefined, same(m), true)).toEqual({ partition: P, state: 'missing' });
    expect(planEntry(P, m, same(m), false)).toEqual({ partition: P, state: 'up_to_date' });
    expect(planEntry(P, m, same(m), true)).toEqual({ partition: P, state: 'stale', reason: '--force' });
  });

  it('says which template changed, was added or is no longer used', () => {
    const m = manifest();
    const e = { ...same(m), templates: [{ name: 'fg_a', sha256: 'a2' }, { name: 'delta_peers_daily', sha256: 'p1' }] };
    expect(partitionState(m, e)).toBe('stale');
    expect(staleReason(m, e)).toBe('template fg_a changed; template delta_peers_daily added; template ip_dim no longer used');
    expect(planEntry(P, m, e, true)).toEqual({ partition: P, state: 'stale', reason: staleReason(m, e) });
  });

  it('says when the JobSpecs (or the host-scope override, part of their hash) changed', () => {
    const m = manifest();
    expect(staleReason(m, { ...same(m), jobspecSha256: 'j2' })).toBe('JobSpecs (or --internal-networks) changed');
  });

  it('counts changed, new and gone inputs and names the first of each', () => {
    const m = manifest();
    const inputs = [
      { dataset: 'delta', partition: 'window of 2026-11-24T12:15:00Z', fingerprint: 'x2' }, // rebuilt upstream
      { dataset: 'lookback', partition: 'look-back of 2026-11-24T12:15:00Z', fingerprint: 'z1' }, // new
      { dataset: 'raw', partition: '/data/b.ndjson', fingerprint: 'f1' }, // new
    ];
    expect(staleReason(m, { ...same(m), inputs })).toBe(
      '1 input changed (delta window of 2026-11-24T12:15:00Z); ' +
        '2 inputs new (lookback look-back of 2026-11-24T12:15:00Z, ...); ' +
        '1 input gone (delta_peers window of 2026-11-24T12:15:00Z)',
    );
  });
});
