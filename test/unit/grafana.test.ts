// The Grafana dashboard and the Prometheus scrape config for docker-compose users stay in step with the
// metrics klassify actually exports.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observe/metrics.js';
import { packageRoot } from '../../src/paths.js';

describe('deploy/ for docker-compose users', () => {
  it('every klassify_* series the Grafana dashboard queries is exported', async () => {
    const dash = JSON.parse(readFileSync(join(packageRoot, 'deploy', 'grafana', 'dashboards', 'klassify.json'), 'utf8')) as {
      panels: { targets: { expr: string }[] }[];
    };
    const exported = new Set((await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name));
    const queried = new Set(dash.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/klassify_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')))));
    expect(queried.size).toBeGreaterThan(10);
    for (const name of queried) expect(exported, name).toContain(name);
  });

  it('Prometheus scrapes the klassify service on its metrics port', () => {
    const prom = readFileSync(join(packageRoot, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8');
    const compose = readFileSync(join(packageRoot, 'docker-compose.yml'), 'utf8');
    const port = /KLASSIFY_METRICS_PORT: "(\d+)"/.exec(compose)?.[1];
    expect(port).toBeDefined();
    expect(prom).toContain(`klassify:${port}`);
  });
});
