// The embedded Apache Kafka: a single KRaft node (broker + controller) on loopback, run from the jars
// Maven Central publishes, so neither Docker nor a Kafka download site is needed.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { probeBroker } from '../../consumers/kafka-client.js';
import { ServiceStartError, ProvisionError } from '../errors.js';
import {
  clearState, freePort, isOurProcess, isPortFree, readState, startDaemon, stopDaemon, tail, waitFor, writeState,
  type DaemonState,
} from './daemon.js';
import { findJava } from './java.js';
import { fetchJars, type Dependency } from './maven.js';

const run = promisify(execFile);

export const KAFKA_VERSION = '4.3.1';
const LOG4J_VERSION = '2.24.3';

// Kafka 4 declares log4j as compileOnly, so a log4j2 binding must be added by hand; kafka-tools brings
// the console producer/consumer used by interop tests and by users who want Kafka's own CLI.
const KAFKA_DEPENDENCIES: readonly Dependency[] = [
  { groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version: KAFKA_VERSION },
  { groupId: 'org.apache.kafka', artifactId: 'kafka-tools', version: KAFKA_VERSION },
  { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-core', version: LOG4J_VERSION },
  { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-api', version: LOG4J_VERSION },
  { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-slf4j-impl', version: LOG4J_VERSION },
];

export interface LocalKafkaOptions {
  /** klassify's cache folder (config.home). */
  home: string;
  /** Several brokers can run side by side (tests use their own); each has its own folder. */
  instance?: string;
  /** Broker port; 0 picks a free one. */
  port: number;
  /** Controller port; 0 picks a free one. */
  controllerPort: number;
  /** How long to wait for the broker to answer (ms). */
  startTimeoutMs?: number;
  /** Also listen with SASL/PLAIN on this port for these users. */
  saslPlain?: SaslPlainListener;
  /** Also listen with TLS on this port. */
  tls?: TlsListener;
}

export interface KafkaState extends DaemonState {
  bootstrap: string;
  port: number;
  controllerPort: number;
  clusterId: string;
  dir: string;
  version: string;
}

export interface KafkaStatus {
  running: boolean;
  bootstrap?: string;
  pid?: number;
  dir: string;
  logFile: string;
  version: string;
}

export function kafkaJarsDir(home: string): string {
  return join(home, `kafka-${KAFKA_VERSION}`);
}

export function instanceDir(home: string, instance = 'default'): string {
  return join(home, 'instances', `kafka-${instance}`);
}

/** The classpath holding Kafka and its tools, downloading it on first use. */
export async function kafkaClasspath(home: string): Promise<string> {
  const dir = await fetchJars(kafkaJarsDir(home), KAFKA_DEPENDENCIES, `Apache Kafka ${KAFKA_VERSION}`);
  return join(dir, 'libs', '*');
}

/** A SASL/PLAIN listener beside the plaintext one (for trying klassify's SASL settings locally). */
export interface SaslPlainListener {
  port: number;
  /** user name → password */
  users: Record<string, string>;
  /** Also accept SCRAM-SHA-256 and SCRAM-SHA-512 for the same users (credentials stored when formatting). */
  scram?: boolean;
}

const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/** StorageTool arguments that store the SCRAM credentials of a fresh cluster's users. */
export function scramFormatArgs(sasl: SaslPlainListener | undefined): string[] {
  if (!sasl?.scram) return [];
  return Object.entries(sasl.users).flatMap(([user, password]) =>
    SCRAM_MECHANISMS.flatMap((m) => ['--add-scram', `${m}=[name=${user},password=${JSON.stringify(password)}]`]),
  );
}

/** A TLS listener beside the plaintext one (for trying klassify's TLS settings locally). */
export interface TlsListener {
  port: number;
  /** PEM file holding the broker's unencrypted PKCS#8 private key followed by its certificate chain. */
  keystorePem: string;
}

function jaasString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function serverProperties(o: {
  nodeId: number;
  port: number;
  controllerPort: number;
  logDir: string;
  sasl?: SaslPlainListener | undefined;
  tls?: TlsListener | undefined;
}): string {
  const { sasl, tls } = o;
  const listeners = [
    `PLAINTEXT://127.0.0.1:${o.port}`,
    ...(sasl ? [`SASL_PLAINTEXT://127.0.0.1:${sasl.port}`] : []),
    ...(tls ? [`SSL://127.0.0.1:${tls.port}`] : []),
  ];
  const protocols = ['CONTROLLER:PLAINTEXT', 'PLAINTEXT:PLAINTEXT', ...(sasl ? ['SASL_PLAINTEXT:SASL_PLAINTEXT'] : []), ...(tls ? ['SSL:SSL'] : [])];
  const mechanisms = ['PLAIN', ...(sasl?.scram ? SCRAM_MECHANISMS : [])].join(',');
  const saslLines = sasl
    ? [
        `sasl.enabled.mechanisms=${mechanisms}`,
        `listener.name.sasl_plaintext.sasl.enabled.mechanisms=${mechanisms}`,
        `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${Object.entries(sasl.users).map(([u, pw]) => `user_${u}=${jaasString(pw)}`).join(' ')};`,
        ...(sasl.scram ? SCRAM_MECHANISMS.map((m) => `listener.name.sasl_plaintext.${m.toLowerCase()}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`) : []),
      ]
    : [];
  // PEM keystores need no keytool step (KIP-651); an unencrypted key needs no key password.
  const tlsLines = tls ? ['listener.name.ssl.ssl.keystore.type=PEM', `listener.name.ssl.ssl.keystore.location=${tls.keystorePem}`, 'listener.name.ssl.ssl.client.auth=none'] : [];
  return [
    'process.roles=broker,controller',
    `node.id=${o.nodeId}`,
    `controller.quorum.voters=${o.nodeId}@127.0.0.1:${o.controllerPort}`,
    `listeners=${[...listeners, `CONTROLLER://127.0.0.1:${o.controllerPort}`].join(',')}`,
    `advertised.listeners=${listeners.join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=${protocols.join(',')}`,
    ...saslLines,
    ...tlsLines,
    `log.dirs=${o.logDir}`,
    'num.partitions=1',
    // A single node can hold only one replica of the internal topics.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=10',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // No point delaying the first rebalance when there is one consumer host (tests join groups constantly).
    'group.initial.rebalance.delay.ms=0',
    // The node's controller fences its own broker when a heartbeat waits past this in its event queue: on a
    // loaded 2-core machine a controller event once took 11 s, the only broker was fenced, every partition
    // lost its leader and every group coordinator reloaded (NOT_COORDINATOR, "coordinator is loading",
    // NOT_ENOUGH_REPLICAS). Fencing the only broker of a one-node cluster never helps; 9 s is the default.
    // Not longer than 20 s, though: after an unclean restart the controller keeps the new incarnation fenced
    // for this long (the old one's session must lapse first), and while fenced the transaction coordinator
    // finds no leader for any partition, so a transaction it expires then is completed with its markers
    // skipped ("partitions are likely deleted"). The fragment stays open in the output partition and the
    // producer's next commit commits it too: at 45 s, 20 s down + 45 s fenced outlived the 60 s transaction
    // timeout and the broker-restart test saw 64 results written twice (the dump showed no abort marker).
    // Transactions that were committing when the broker died can lose their markers the same way whatever
    // this is (KAFKA-20734): consumers/txn-settle.ts completes those, and the marker manager logs at INFO
    // so kafka.log shows each skip ("likely deleted already").
    'broker.session.timeout.ms=20000',
    'auto.create.topics.enable=true',
    'log.retention.hours=24',
    'log.segment.bytes=67108864',
    '',
  ].join('\n');
}

const LOG4J2 = `status = error
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
logger.markers.name = kafka.coordinator.transaction.TransactionMarkerChannelManager
logger.markers.level = INFO
`;

function paths(home: string, instance: string) {
  const dir = instanceDir(home, instance);
  return { dir, state: join(dir, 'state.json'), log: join(dir, 'kafka.log'), data: join(dir, 'data'), props: join(dir, 'server.properties') };
}

/** Asks the broker for metadata and a group coordinator: "up" means a consumer group can join. */
export const probeKafka = probeBroker;

export async function kafkaStatus(options: Pick<LocalKafkaOptions, 'home' | 'instance'>): Promise<KafkaStatus> {
  const p = paths(options.home, options.instance ?? 'default');
  const state = readState<KafkaState>(p.state);
  const base = { dir: p.dir, logFile: p.log, version: KAFKA_VERSION };
  if (!state || !isOurProcess(state.pid, p.dir)) return { running: false, ...base };
  return { running: true, bootstrap: state.bootstrap, pid: state.pid, ...base };
}

/** Starts the local broker (downloading Kafka first if needed); idempotent. */
export async function kafkaUp(options: LocalKafkaOptions): Promise<KafkaStatus> {
  const instance = options.instance ?? 'default';
  const p = paths(options.home, instance);
  const current = await kafkaStatus(options);
  if (current.running && current.bootstrap && (await probeKafka(current.bootstrap))) return current;
  if (current.running && current.pid) await stopDaemon(current.pid, p.dir, 10_000);

  const java = await findJava(17, `Apache Kafka ${KAFKA_VERSION}`);
  const classpath = await kafkaClasspath(options.home);
  mkdirSync(p.data, { recursive: true });

  const previous = readState<KafkaState>(p.state);
  const port = options.port || previous?.port || (await freePort());
  const controllerPort = options.controllerPort || previous?.controllerPort || (await freePort());
  for (const [name, value] of [['port', port], ['controller port', controllerPort]] as const) {
    if (!(await isPortFree(value))) {
      throw new ServiceStartError(`cannot start local Kafka: ${name} ${value} is in use; free it or pick another (KLASSIFY_KAFKA_PORT / KLASSIFY_KAFKA_CONTROLLER_PORT, 0 = any free port)`);
    }
  }
  writeFileSync(p.props, serverProperties({ nodeId: 1, port, controllerPort, logDir: p.data, sasl: options.saslPlain, tls: options.tls }));
  writeFileSync(join(p.dir, 'log4j2.properties'), LOG4J2);

  // Storage is formatted once per data folder; the cluster id is kept so restarts reuse the data.
  const clusterId = previous?.clusterId ?? newClusterId();
  await run(java.path, ['-cp', classpath, `-Dlog4j2.configurationFile=${join(p.dir, 'log4j2.properties')}`,
    'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', p.props, '--ignore-formatted', ...scramFormatArgs(options.saslPlain)], { timeout: 120_000 })
    .catch((err: unknown) => {
      const detail = String((err as { stderr?: string }).stderr ?? err).slice(0, 2000);
      throw new ProvisionError(`formatting Kafka storage in ${p.data} failed: ${detail}`, { cause: err });
    });

  const pid = startDaemon({
    command: java.path,
    args: ['-Xms256m', '-Xmx1g', '-XX:+UseG1GC', `-Dklassify.instance=${p.dir}`,
      `-Dlog4j2.configurationFile=${join(p.dir, 'log4j2.properties')}`, '-cp', classpath, 'kafka.Kafka', p.props],
    cwd: p.dir,
    logFile: p.log,
  });
  const bootstrap = `127.0.0.1:${port}`;
  const state: KafkaState = { pid, startedAt: new Date().toISOString(), bootstrap, port, controllerPort, clusterId, dir: p.dir, version: KAFKA_VERSION };
  writeState(p.state, state);

  const outcome = await waitFor(() => probeKafka(bootstrap), {
    timeoutMs: options.startTimeoutMs ?? 90_000,
    alive: () => isOurProcess(pid, p.dir),
    intervalMs: 300,
  });
  if (outcome !== 'ready') {
    await stopDaemon(pid, p.dir, 5_000);
    clearState(p.state);
    throw new ServiceStartError(`local Kafka ${outcome === 'died' ? 'exited' : 'did not answer in time'}; last lines of ${p.log}:\n${tail(p.log)}`);
  }
  return { running: true, bootstrap, pid, dir: p.dir, logFile: p.log, version: KAFKA_VERSION };
}

/** Stops the local broker and waits until its process is gone; data is kept unless `purge`. */
export async function kafkaDown(options: Pick<LocalKafkaOptions, 'home' | 'instance'> & { purge?: boolean }): Promise<'stopped' | 'killed' | 'not-running'> {
  const p = paths(options.home, options.instance ?? 'default');
  const state = readState<KafkaState>(p.state);
  // A controlled shutdown of a single node takes a few seconds; past 30 s something is stuck.
  const result = state ? await stopDaemon(state.pid, p.dir, 30_000) : 'not-running';
  if (options.purge) {
    rmSync(p.dir, { recursive: true, force: true });
  } else if (state) {
    // Keep ports and cluster id for the next `up`, drop the pid.
    writeState(p.state, { ...state, pid: 0 });
  }
  return result;
}

/**
 * A KRaft cluster id: 16 random bytes in base64url without padding. One in 64 of those starts with '-',
 * which StorageTool's argument parser reads as an option ("--cluster-id: expected one argument"), so such
 * ids are drawn again, as Kafka's own Uuid.randomUuid() does.
 */
export function newClusterId(random: () => Buffer = () => Buffer.from(randomUUID().replace(/-/g, ''), 'hex')): string {
  for (;;) {
    const id = random().toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
