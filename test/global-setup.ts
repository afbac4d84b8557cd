// Brings up the services integration tests talk to, once per test run:
//   1. KAFKA_BROKERS / SCHEMA_REGISTRY_URL when set (your own cluster);
//   2. else containers through testcontainers when a Docker engine answers;
//   3. else Kafka and Apicurio Registry provisioned locally from Maven Central (no Docker needed).
// Every test then creates its own uniquely named topics and groups, so files run in parallel.
import type { TestProject } from 'vitest/node';
import { startTestServices } from './helpers/services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    registryUrl: string;
    servicesMode: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.KLASSIFY_TEST_NO_SERVICES === '1') {
    // Quick unit-test loops during development; tests that need a broker will fail loudly, not skip.
    project.provide('kafkaBrokers', '');
    project.provide('registryUrl', '');
    project.provide('servicesMode', 'none');
    return async () => undefined;
  }
  const services = await startTestServices();
  project.provide('kafkaBrokers', services.brokers);
  project.provide('registryUrl', services.registryUrl);
  project.provide('servicesMode', services.mode);
  process.stderr.write(`[klassify tests] Kafka ${services.brokers}, Schema Registry ${services.registryUrl} (${services.mode})\n`);
  return async () => {
    await services.stop();
  };
}
