// Where a model swap shows on the brand dashboard (issue #16): the 1-minute stats name the model
// versions behind each window's results, and a version that was not in the window before is a marker.
// A swap mid-minute gives one window with both versions and one marker, not two. Pure.

export interface ModelMarker {
  /** Start of the first 1-minute window with the new version (ms). */
  start: number;
  /** The version(s) new in that window, and the ones of the window before. */
  added: string[];
  before: string[];
}

export function modelMarkers(stats: readonly { size?: string; start: number; models?: readonly string[] }[]): ModelMarker[] {
  const byStart = new Map<number, Set<string>>();
  for (const s of stats) {
    if ((s.size !== undefined && s.size !== '1m') || !s.models || s.models.length === 0) continue;
    const set = byStart.get(s.start) ?? new Set<string>();
    for (const m of s.models) set.add(m);
    byStart.set(s.start, set);
  }
  const markers: ModelMarker[] = [];
  let previous: Set<string> | undefined;
  for (const [start, models] of [...byStart].sort((a, b) => a[0] - b[0])) {
    const before = previous;
    previous = models;
    // The first window seen has nothing before it to differ from.
    if (before === undefined) continue;
    const added = [...models].filter((m) => !before.has(m)).sort();
    if (added.length > 0) markers.push({ start, added, before: [...before].sort() });
  }
  return markers;
}
