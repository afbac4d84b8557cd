// Fault figures of the reliability tests, for `npm run chaos` (scripts/chaos.mjs): when
// KLASSIFY_CHAOS_REPORT names a file, each scenario appends one JSON line with what went in, what came
// out, and how much was lost or written twice. The tests assert on the same figures; this only reports.
import { appendFileSync } from 'node:fs';

export interface FaultFigures {
  scenario: string;
  mode: 'at-least-once' | 'exactly-once';
  in: number;
  out: number;
  lost: number;
  duplicated: number;
}

/** Tallies inputs against outputs by key (post id, or source partition@offset). */
export function tally(inputs: readonly string[], outputs: readonly string[]): Pick<FaultFigures, 'in' | 'out' | 'lost' | 'duplicated'> {
  const seen = new Set(outputs);
  const wanted = new Set(inputs);
  const matched = outputs.filter((o) => wanted.has(o)).length;
  return {
    in: inputs.length,
    out: outputs.length,
    lost: inputs.filter((i) => !seen.has(i)).length,
    // Extra copies of an input beyond its first (and outputs of nothing that went in, which would be worse).
    duplicated: matched - [...seen].filter((o) => wanted.has(o)).length + (outputs.length - matched),
  };
}

export function reportFault(scenario: string, mode: FaultFigures['mode'], inputs: readonly string[], outputs: readonly string[]): void {
  const file = process.env.KLASSIFY_CHAOS_REPORT;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ scenario, mode, ...tally(inputs, outputs), at: new Date().toISOString() })}\n`);
}
