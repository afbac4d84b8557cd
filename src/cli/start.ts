// klassify start: the main job. Consume the input topic(s), classify, write results; on embedded
// defaults it brings up a local Kafka and uses the shipped model.
import { Command } from 'commander';
import { App } from '../app.js';
import { createClassifier } from '../classifier-factory.js';
import { attachObservability, type Observability } from '../observe/attach.js';
import { join } from 'node:path';
import { loadBrandsConfig } from '../../brands/config.js';
import { startBrandMonitor, type RunningBrandMonitor } from '../brand-monitor.js';
import { packageRoot } from '../paths.js';
import { startDemoProducer } from '../produce/demo.js';
import { parseSpike } from '../produce/generator.js';
import { onShutdownSignal } from '../shutdown.js';
import { configFrom, withKnobs } from './options.js';
import { failure, info } from './output.js';
import { int8WeightsWarning } from '../compile/int8-kernel.js';
import { loadManifest } from '../model/manifest.js';

const EXAMPLE_BRANDS = join(packageRoot, 'brands', 'example-brands.json');
const DEMO_SPIKE = 'Acme Air:60s:8x:negative';

export function startCommand(): Command {
  const cmd = new Command('start')
    .description('consume the input topic(s), classify every record, write results to the output topic (embedded Kafka and the shipped model by default)')
    .option('--demo [rate]', 'also feed the input topic with generated brand-mention posts (default 20/s), to watch it work');
  withKnobs(cmd, ['']);
  return cmd.action(async (opts: Record<string, unknown>) => {
    // The demo shows brand monitoring too: the generator's brands, unless a brands file is given.
    let config = configFrom(opts);
    if (opts.demo !== undefined && !config.brands.file) config = configFrom({ ...opts, brands: EXAMPLE_BRANDS });
    let observability: Observability | undefined;
    let fatal: (() => void) | undefined;
    const failed = new Promise<void>((resolve) => (fatal = resolve));
    const app = await App.start({
      config,
      createClassifier,
      log: info,
      onFatal: () => fatal?.(),
      attach: async (a) => {
        if (!config.metrics.enabled) return undefined;
        observability = await attachObservability(a);
        return observability;
      },
    });
    const p = config.pipeline;
    const m = app.classifier.model;
    const brokerArg = app.embeddedKafka ? '' : ` --brokers ${app.brokers.join(',')}`;
    info(
      [
        '',
        'klassify is running',
        `  kafka         ${app.brokers.join(',')}${app.embeddedKafka ? ' (embedded; stop it with: npx klassify kafka down)' : ''}`,
        `  input         ${p.inputTopics.join(', ')}   feed it: npx klassify produce --generate --rate 100${brokerArg}`,
        `  output        ${p.outputTopic}   watch it: npx klassify tail${brokerArg}`,
        `  dead letters  ${p.deadLetterTopic}   npx klassify tail --dead-letters${brokerArg}`,
        `  model         ${m.name} ${m.version} (${m.target}), labels ${m.labels.join('/')}, ${app.classifier.health().workers} worker(s)`,
        `  delivery      ${p.delivery}, group ${p.groupId}`,
        observability ? `  dashboard     ${observability.url}/   metrics ${observability.url}/metrics   lag: npx klassify lag${brokerArg}` : '  metrics       off',
        '  Ctrl-C stops it gracefully (drain, write, commit).',
        '',
      ].join('\n'),
    );
    const int8Warning = await int8WeightsWarning(loadManifest(config.model.dir).manifest.quantization.details);
    if (int8Warning !== undefined) info(int8Warning);
    let demo: { stop(): Promise<void> } | undefined;
    let monitor: RunningBrandMonitor | undefined;
    if (opts.demo !== undefined) {
      const rate = opts.demo === true ? 20 : Number(opts.demo);
      if (config.brands.file) {
        // The monitor in this process (its own group on the results topic), 12 minutes of history for
        // its baselines, then a spike a minute in: an alert shows on /brands about two minutes later.
        monitor = await startBrandMonitor({
          config, kafka: app.kafka, brandsConfig: loadBrandsConfig(config.brands.file), results: p.outputTopic,
          port: config.metrics.port === 0 ? 0 : config.metrics.port + 1, log: info,
        });
        const spike = parseSpike(DEMO_SPIKE);
        info(`  demo          12 min of history, then ${rate} posts/s with a spike: ${DEMO_SPIKE} (brand|at|factor|sentiment)`);
        if (monitor.url) info(`  brands        ${monitor.url}/brands   (mentions, sentiment per brand, share of voice, alerts)`);
        demo = await startDemoProducer(app.kafka, p.inputTopics[0] as string, rate, { backfillMinutes: 12, spike });
      } else {
        demo = await startDemoProducer(app.kafka, p.inputTopics[0] as string, rate);
      }
    }
    // SIGHUP reloads the model folder (a new compile there, a flipped symlink): a gated swap, never a stop.
    process.on('SIGHUP', () => void app.swapModel(config.model.dir, 'sighup'));
    const signalled = new Promise<void>((resolve) => {
      onShutdownSignal((signal) => {
        info(`${signal}: stopping (draining in-flight records, then committing)...`);
        resolve();
      });
    });
    const why = await Promise.race([signalled.then(() => 'signal' as const), failed.then(() => 'fatal' as const)]);
    await demo?.stop();
    await monitor?.stop().catch(() => undefined);
    if (why === 'fatal') {
      // /readyz already says so; stop what can be stopped, then exit non-zero so an orchestrator restarts us.
      await app.stop().catch(() => undefined);
      process.exit(1);
    }
    try {
      await app.stop();
      info('stopped cleanly: every result was written and committed; records not yet classified are left to the next run');
      // Everything is written and committed; a kafkajs consumer that crashed during a broker outage may
      // still hold a restart timer after disconnect(), which would keep the process alive for ever.
      process.exit(0);
    } catch (err) {
      info(failure(err, false));
      // Past the bound, clients still retrying a lost broker would keep the process alive: the stop
      // was promised to end within it.
      process.exit(1);
    }
  });
}
