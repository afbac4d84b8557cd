// How the test run gets its Kafka and Schema Registry (see global-setup.ts for the order of choice).
import { existsSync } from 'node:fs';
import { defaultHome } from '../../src/paths.js';
import { kafkaDown, kafkaUp } from '../../src/services/kafka.js';
import { registryDown, registryUp } from '../../src/services/registry.js';

export interface TestServices {
  brokers: string;
  registryUrl: string;
  mode: 'external' | 'testcontainers' | 'local';
  stop(): Promise<void>;
}

async function dockerAnswers(): Promise<boolean> {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function withContainers(): Promise<TestServices> {
  // Not exercised on the project's CI machines (no Docker engine there); follows testcontainers' documented API.
  const { GenericContainer, Wait } = await import('testcontainers');
  const kafka = await new GenericContainer('apache/kafka:4.1.0')
    .withExposedPorts({ container: 9092, host: 9092 })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://localhost:9092',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const registry = await new GenericContainer('apicurio/apicurio-registry:3.1.0')
    .withExposedPorts(8080)
    .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080))
    .start();
  return {
    brokers: 'localhost:9092',
    registryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
    mode: 'testcontainers',
    stop: async () => {
      await Promise.all([kafka.stop(), registry.stop()]);
    },
  };
}

async function local(): Promise<TestServices> {
  const home = defaultHome();
  const instance = `test-${process.pid}`;
  const [kafka, registry] = await Promise.all([
    kafkaUp({ home, instance, port: 0, controllerPort: 0 }),
    registryUp({ home, instance, port: 0, managementPort: 0 }),
  ]);
  return {
    brokers: kafka.bootstrap ?? '',
    registryUrl: registry.url ?? '',
    mode: 'local',
    stop: async () => {
      await Promise.all([kafkaDown({ home, instance, purge: true }), registryDown({ home, instance, purge: true })]);
    },
  };
}

export async function startTestServices(): Promise<TestServices> {
  const brokers = process.env.KAFKA_BROKERS;
  if (brokers) {
    const registryUrl = process.env.SCHEMA_REGISTRY_URL;
    if (registryUrl) return { brokers, registryUrl, mode: 'external', stop: async () => undefined };
    // Your Kafka, our registry.
    const home = defaultHome();
    const instance = `test-${process.pid}`;
    const registry = await registryUp({ home, instance, port: 0, managementPort: 0 });
    return { brokers, registryUrl: registry.url ?? '', mode: 'external', stop: async () => void (await registryDown({ home, instance, purge: true })) };
  }
  if (await dockerAnswers()) return withContainers();
  return local();
}
