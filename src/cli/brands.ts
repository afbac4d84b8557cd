// klassify brands: the brand monitor. Its own consumer group on the results topic (so it restarts and
// scales apart from inference): per brand and window (1 min, 1 h) mention counts, labels, net sentiment
// and share of voice to a compacted stats topic and as Prometheus metrics; spike alerts to an alerts
// topic (exactly once) and a webhook; its state in a compacted topic, committed with its offsets.
import { Command } from 'commander';
import { loadBrandsConfig } from '../../brands/config.js';
import { createKafka } from '../../consumers/kafka-client.js';
import { startBrandMonitor } from '../brand-monitor.js';
import { ConfigError } from '../errors.js';
import { resolveBrokers } from '../services/brokers.js';
import { onShutdownSignal } from '../shutdown.js';
import { configFrom, withKnobs } from './options.js';
import { info } from './output.js';

export function brandsCommand(): Command {
  const cmd = new Command('brands')
    .description('the brand monitor: per-brand windows, share of voice and spike alerts from the results topic (needs --brands; its own consumer group)')
    .option('--results <topic>', 'results topic to read (default: the output topic)');
  withKnobs(cmd, ['home', 'logLevel', 'kafka.', 'pipeline.outputTopic', 'pipeline.partitions', 'pipeline.sessionTimeoutMs', 'brands.', 'metrics.']);
  return cmd.action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts);
    const b = config.brands;
    if (!b.file) throw new ConfigError('klassify brands needs a brands file: --brands FILE (env KLASSIFY_BRANDS)');
    const brandsConfig = loadBrandsConfig(b.file);
    const results = (opts.results as string | undefined) ?? config.pipeline.outputTopic;
    const { brokers } = await resolveBrokers(config, info);
    const kafka = createKafka(config, brokers, `${config.kafka.clientId}-brands`);
    const running = await startBrandMonitor({ config, kafka, brandsConfig, results, port: config.metrics.port, log: info });
    info([
      '',
      'klassify brands is running',
      `  results       ${results} (group ${b.groupId})`,
      `  brands        ${brandsConfig.brands.length} from ${b.file}`,
      `  stats         ${b.statsTopic} (compacted)   alerts ${b.alertsTopic}${b.webhookUrl ? ` and ${b.webhookUrl}` : ''}`,
      running.url ? `  dashboard     ${running.url}/brands   metrics ${running.url}/metrics` : '  metrics       off',
      '',
    ].join('\n'));
    await new Promise<void>((resolve) => onShutdownSignal(() => resolve()));
    await running.stop();
    info('klassify brands stopped: state and offsets committed');
    // As for start: nothing is left to write, and a lingering kafkajs restart timer must not keep us alive.
    process.exit(0);
  });
}
