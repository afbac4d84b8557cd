// What becomes of one taken record once the pipeline is done with it: its result, its dead letter with
// the reason, or (a failure that is nobody's record's fault) nothing now: left uncommitted for the next
// owner to redo. Hands the encoded message to the Kafka stage, which writes and commits in order.
import { EncodeFailure, type OutputEncoder } from '../consumers/encode.js';
import type { KafkaStage, Taken } from '../consumers/kafka-stage.js';
import type { OutMessage, ResultRecord } from '../consumers/messages.js';

/** Outcomes that are nobody's record's fault: the pool closed, or still overloaded when stopping. */
const NOT_THE_RECORD = new Set(['KLS_ERR_POOL_CLOSED', 'KLS_ERR_POOL_OVERLOADED']);

export class ResultWriter {
  constructor(
    private readonly stage: KafkaStage,
    private readonly encoder: OutputEncoder,
    private readonly onDeadLetter: (topic: string, code: string) => void,
  ) {}

  /**
   * A transient failure that outlasted the run (only while stopping, or the pool is gone): the record is
   * left uncommitted for the next owner, with the rest of its partition after it, never dead-lettered.
   */
  abandon(job: Taken): void {
    this.stage.abandon(job.entry);
    this.stage.flush();
  }

  /** The record could not be classified: a dead letter with the reason, unless it is not its fault. */
  async failed(job: Taken, error: { code: string; message: string }): Promise<void> {
    if (NOT_THE_RECORD.has(error.code)) this.abandon(job);
    else await this.deadLetter(job, error.code, error.message);
  }

  async deadLetter(job: Taken, code: string, message: string): Promise<void> {
    const msg = await this.encoder.deadLetter(job.record, code, message, this.stage.deadLetterPartition(job.record));
    this.#finish(job, msg, true);
    this.onDeadLetter(job.record.topic, code);
    this.stage.flush();
  }

  async result(job: Taken, result: ResultRecord): Promise<void> {
    const encoded = await this.encoder.result(result, job.record, this.stage.outputPartition(job.record));
    // One record's result that its schema cannot carry is that record's dead letter, never a crash.
    if (encoded instanceof EncodeFailure) return encoded.transient ? this.abandon(job) : this.deadLetter(job, encoded.code, encoded.message);
    this.#finish(job, encoded, false, result.ts ?? Number(job.record.timestamp));
  }

  #finish({ entry, record }: Taken, message: OutMessage, deadLetter: boolean, eventTs = Number(record.timestamp)): void {
    this.stage.complete(entry, { messages: [message], eventTs, receivedAt: record.receivedAt, deadLetter });
  }
}
