// brands/model-markers.ts: a hot swap as one marker on the brand dashboard.
import { describe, expect, it } from 'vitest';
import { modelMarkers } from '../../brands/model-markers.js';

const w = (minute: number, models: string[], brand = 'Kestrel', size = '1m') => ({ brand, size, start: minute * 60_000, models });

describe('modelMarkers', () => {
  it('one marker per swap: the first window with the new version, even when a window holds both', () => {
    const stats = [w(0, ['m@v1']), w(0, ['m@v1'], 'Northwind'), w(1, ['m@v1', 'm@v2']), w(1, ['m@v2'], 'Northwind'), w(2, ['m@v2']), w(5, ['m@v3'])];
    expect(modelMarkers(stats)).toEqual([
      { start: 60_000, added: ['m@v2'], before: ['m@v1'] },
      { start: 300_000, added: ['m@v3'], before: ['m@v2'] },
    ]);
  });

  it('no marker without a change, for quiet windows, or for 1-hour windows', () => {
    expect(modelMarkers([w(0, ['m@v1']), w(1, []), w(2, ['m@v1'])])).toEqual([]);
    expect(modelMarkers([w(0, ['m@v1']), w(0, ['m@v2'], 'Kestrel', '1h')])).toEqual([]);
    expect(modelMarkers([])).toEqual([]);
  });
});
