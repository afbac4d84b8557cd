// klassify start: the main job. Consume the input topic(s), classify, write results; on embedded
// defaults it brings up a local Kafka and uses the shipped model.
import { Command } from 'commander';
import { App } from '../app.js';
import { createClassifier } from '../classifier-factory.js';
import { attachObservability, type Observability } from '../observe/attach.js';
import { startDemoProducer } from '../produce/demo.js';
import { onShutdownSignal } from '../shutdown.js';
import { configFrom, withKnobs } from './options.js';
import { failure, info } from './output.js';

export function startCommand(): Command {
  const cmd = new Command('start')
    .description('consume the input topic(s), classify every record, write results to the output topic (embedded Kafka and the shipped model by default)')
    .option('--demo [rate]', 'also feed the input topic with generated brand-mention posts (default 20/s), to watch it work');
  withKnobs(cmd, ['']);
  return cmd.action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts);
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
    const demo = opts.demo === undefined ? undefined : await startDemoProducer(app.kafka, p.inputTopics[0] as string, opts.demo === true ? 20 : Number(opts.demo));
    const signalled = new Promise<void>((resolve) => {
      onShutdownSignal((signal) => {
        info(`${signal}: stopping (draining in-flight records, then committing)...`);
        resolve();
      });
    });
    const why = await Promise.race([signalled.then(() => 'signal' as const), failed.then(() => 'fatal' as const)]);
    await demo?.stop();
    if (why === 'fatal') {
      // /readyz already says so; stop what can be stopped, then exit non-zero so an orchestrator restarts us.
      await app.stop().catch(() => undefined);
      process.exit(1);
    }
    try {
      await app.stop();
      info('stopped cleanly: everything consumed was written and committed');
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
