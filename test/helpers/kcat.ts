// A second reader this project did not write (kcat, librdkafka): when a kafkajs reader counts a result
// twice in exactly-once mode, this says whether the broker holds two committed copies (a write twice) or
// the reader saw one twice, and where the copies are.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { brokers } from './kafka.js';

const run = promisify(execFile);

/** Reads `topic` read_committed with kcat and describes the ids found more than once (partition@offset). */
export async function kcatSecondOpinion(topic: string): Promise<string> {
  const { stdout } = await run('kcat', ['-C', '-b', brokers().join(','), '-t', topic, '-e', '-q', '-X', 'isolation.level=read_committed', '-f', '%p@%o\t%s\n'], { maxBuffer: 256 * 1024 * 1024 });
  const lines = stdout.split('\n').filter((l) => l.length > 0);
  const byId = new Map<string, string[]>();
  for (const line of lines) {
    const tab = line.indexOf('\t');
    const id = String((JSON.parse(line.slice(tab + 1)) as { id?: unknown }).id);
    byId.set(id, [...(byId.get(id) ?? []), line.slice(0, tab)]);
  }
  const twice = [...byId].filter(([, at]) => at.length > 1);
  const where = twice.slice(0, 10).map(([id, at]) => `${id} at ${at.join(', ')}`).join('; ');
  return `kcat (librdkafka, read_committed) read ${lines.length} records, ${twice.length} id(s) more than once${twice.length > 0 ? `: ${where}` : ''}`;
}
