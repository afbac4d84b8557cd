// Which Kafka a command talks to: the user's cluster (KAFKA_BROKERS / --brokers) or, by default, the
// embedded local broker, started on demand so that every command works on a fresh machine.
import type { ResolvedConfig } from '../config.js';
import { kafkaUp } from './kafka.js';

export interface ResolvedBrokers {
  brokers: string[];
  embedded: boolean;
}

export async function resolveBrokers(config: ResolvedConfig, log: (line: string) => void = () => undefined): Promise<ResolvedBrokers> {
  if (config.kafka.brokers.length > 0) return { brokers: [...config.kafka.brokers], embedded: false };
  log('no KAFKA_BROKERS given: using the embedded local Kafka (started if needed; the first run downloads it with mvn)');
  const status = await kafkaUp({ home: config.home, port: config.kafka.localPort, controllerPort: config.kafka.localControllerPort });
  return { brokers: [status.bootstrap ?? ''], embedded: true };
}
