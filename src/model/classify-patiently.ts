// How the pipeline calls the classifier: transient refusals are waited out, and a batch that keeps
// killing its worker is bisected down to the text that does it, so only that record is dead-lettered.
import { codeOf, InferenceError, messageOf, PoolOverloadedError } from '../errors.js';
import { isFailure, type Classifier, type ClassifyOutcome } from './classifier.js';

/** The pool already retried this batch once on another worker; it crashed (or hung) there too. */
const CRASH = 'KLS_ERR_WORKER_CRASH';

const crashedAt = (outcomes: readonly ClassifyOutcome[]): number[] =>
  outcomes.flatMap((o, i) => (isFailure(o) && o.error.code === CRASH ? [i] : []));

/**
 * Classifies `texts`, one outcome per text. Pool overload (backpressure) is waited out with backoff
 * until `stopping()`. Texts that failed with a worker crash (the pool cuts a call into tasks, so that may
 * be part of the call) are tried again apart from the rest; when all of them crash together they are
 * split in halves, and so on down to single texts: an innocent text is classified, the poison one fails
 * alone. A rejection of the whole call (pool closed) fails every text with its code.
 */
export async function classifyPatiently(classifier: Classifier, texts: readonly string[], stopping: () => boolean): Promise<ClassifyOutcome[]> {
  const outcomes = await once(classifier, texts, stopping);
  const crashed = crashedAt(outcomes);
  // A lone text whose task crashed twice is the poison itself.
  if (crashed.length < 2) return outcomes;
  const again = crashed.map((i) => texts[i]!);
  let redone: ClassifyOutcome[];
  if (crashed.length < texts.length) {
    redone = await classifyPatiently(classifier, again, stopping);
  } else {
    const mid = Math.ceil(again.length / 2);
    const halves = await Promise.all([classifyPatiently(classifier, again.slice(0, mid), stopping), classifyPatiently(classifier, again.slice(mid), stopping)]);
    redone = halves.flat();
  }
  crashed.forEach((i, k) => (outcomes[i] = redone[k]!));
  return outcomes;
}

async function once(classifier: Classifier, texts: readonly string[], stopping: () => boolean): Promise<ClassifyOutcome[]> {
  for (let wait = 2; ; wait = Math.min(wait * 2, 200)) {
    try {
      return await classifier.classify(texts);
    } catch (err) {
      if (err instanceof PoolOverloadedError && !stopping()) {
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      const failure = { error: { code: err instanceof InferenceError ? err.code : codeOf(err), message: messageOf(err) } };
      return texts.map(() => failure);
    }
  }
}
