import { describe, expect, it } from 'vitest';
import { planRun } from '../../consumers/txn-plan.js';

describe('planRun: a transaction starts exactly at the committed offset read after its producer init', () => {
  it('writes a run that starts at the committed offset, or anywhere while nothing is committed', () => {
    expect(planRun(100, 100)).toEqual({ action: 'send' });
    expect(planRun(undefined, 37)).toEqual({ action: 'send' });
  });

  it('leaves out what another producer already wrote (a zombie waking up with its old ledger)', () => {
    // The case seen in the zombie test: the zombie's run 1764.. while the new owner had committed 1850.
    expect(planRun(1850, 1764)).toEqual({ action: 'skip-below', offset: 1850 });
  });

  it('never writes past a gap: the ledger is fetched again from the committed offset', () => {
    expect(planRun(1761, 1764)).toEqual({ action: 'resync', offset: 1761 });
  });
});
