// The error catalogue. Every failure klassify reports carries a stable `code`: callers, dead-letter
// records and dashboards match on the code, so the wording may change but a code is never reused.
// test/unit/errors.test.ts keeps this list and README's table in step.

export interface KlassifyErrorOptions {
  cause?: unknown;
}

export abstract class KlassifyError extends Error {
  abstract readonly code: string;
  /** True when the same call may succeed if tried again later (broker restart, pool saturation). */
  readonly retriable: boolean = false;

  constructor(message: string, options: KlassifyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

type ErrorClass = new (message: string, options?: KlassifyErrorOptions) => KlassifyError;

const byCode = new Map<string, ErrorClass>();

function define(name: string, code: string, retriable = false): ErrorClass {
  const cls = class extends KlassifyError {
    readonly code = code;
    override readonly retriable = retriable;
  };
  // A class expression has no name of its own; give it one so stack traces and logs say what failed.
  Object.defineProperty(cls, 'name', { value: name });
  byCode.set(code, cls);
  return cls;
}

// Configuration and environment
export const ConfigError = define('ConfigError', 'KLS_ERR_CONFIG');
export const JavaMissingError = define('JavaMissingError', 'KLS_ERR_JAVA_MISSING');
export const MavenMissingError = define('MavenMissingError', 'KLS_ERR_MAVEN_MISSING');
export const ProvisionError = define('ProvisionError', 'KLS_ERR_PROVISION');
export const ServiceStartError = define('ServiceStartError', 'KLS_ERR_SERVICE_START', true);
export const ServiceNotRunningError = define('ServiceNotRunningError', 'KLS_ERR_SERVICE_NOT_RUNNING');

// Input decoding (each ends up in a dead-letter record)
export const DecodeError = define('DecodeError', 'KLS_ERR_DECODE');
export const InvalidJsonError = define('InvalidJsonError', 'KLS_ERR_INVALID_JSON');
export const InvalidUtf8Error = define('InvalidUtf8Error', 'KLS_ERR_INVALID_UTF8');
export const MissingTextError = define('MissingTextError', 'KLS_ERR_MISSING_TEXT');
export const OversizedTextError = define('OversizedTextError', 'KLS_ERR_OVERSIZED_TEXT');
export const SchemaError = define('SchemaError', 'KLS_ERR_SCHEMA');

// Models and compilation
export const ModelLoadError = define('ModelLoadError', 'KLS_ERR_MODEL_LOAD');
export const ModelSignatureError = define('ModelSignatureError', 'KLS_ERR_MODEL_SIGNATURE');
export const ManifestError = define('ManifestError', 'KLS_ERR_MANIFEST');
export const TokenizerError = define('TokenizerError', 'KLS_ERR_TOKENIZER');
export const ParityGateError = define('ParityGateError', 'KLS_ERR_PARITY_GATE');
export const CudaUnavailableError = define('CudaUnavailableError', 'KLS_ERR_CUDA_UNAVAILABLE');
export const EvalSetError = define('EvalSetError', 'KLS_ERR_EVAL_SET');
export const CompileError = define('CompileError', 'KLS_ERR_COMPILE');

// Inference pool
export const PoolOverloadedError = define('PoolOverloadedError', 'KLS_ERR_POOL_OVERLOADED', true);
export const PoolClosedError = define('PoolClosedError', 'KLS_ERR_POOL_CLOSED');
export const InferenceError = define('InferenceError', 'KLS_ERR_INFERENCE');
export const WorkerCrashError = define('WorkerCrashError', 'KLS_ERR_WORKER_CRASH', true);

// Pipeline
export const ProduceError = define('ProduceError', 'KLS_ERR_PRODUCE', true);
export const OutputTooLargeError = define('OutputTooLargeError', 'KLS_ERR_OUTPUT_TOO_LARGE');
export const FenceError = define('FenceError', 'KLS_ERR_FENCE');
export const ConsumerCrashError = define('ConsumerCrashError', 'KLS_ERR_CONSUMER_CRASH');
export const ShutdownTimeoutError = define('ShutdownTimeoutError', 'KLS_ERR_SHUTDOWN_TIMEOUT');

// Model hot swap (rollout/): a refused swap leaves the live model serving
export const SwapBusyError = define('SwapBusyError', 'KLS_ERR_SWAP_BUSY', true);
export const SwapLoadError = define('SwapLoadError', 'KLS_ERR_SWAP_LOAD');
export const SwapLabelsError = define('SwapLabelsError', 'KLS_ERR_SWAP_LABELS');
// Retriable: more live traffic fills the sample.
export const SwapSampleError = define('SwapSampleError', 'KLS_ERR_SWAP_SAMPLE', true);
export const SwapParityError = define('SwapParityError', 'KLS_ERR_SWAP_PARITY');
// Retriable: the instance may be starting, or the shadow not running yet.
export const ShadowReportError = define('ShadowReportError', 'KLS_ERR_SHADOW_REPORT', true);

// Brand monitoring
export const BrandsConfigError = define('BrandsConfigError', 'KLS_ERR_BRANDS_CONFIG');

/** Every code above, for the catalogue test and the README table. */
export const errorCodes: readonly string[] = Object.freeze([
  'KLS_ERR_CONFIG',
  'KLS_ERR_JAVA_MISSING',
  'KLS_ERR_MAVEN_MISSING',
  'KLS_ERR_PROVISION',
  'KLS_ERR_SERVICE_START',
  'KLS_ERR_SERVICE_NOT_RUNNING',
  'KLS_ERR_DECODE',
  'KLS_ERR_INVALID_JSON',
  'KLS_ERR_INVALID_UTF8',
  'KLS_ERR_MISSING_TEXT',
  'KLS_ERR_OVERSIZED_TEXT',
  'KLS_ERR_SCHEMA',
  'KLS_ERR_MODEL_LOAD',
  'KLS_ERR_MODEL_SIGNATURE',
  'KLS_ERR_MANIFEST',
  'KLS_ERR_TOKENIZER',
  'KLS_ERR_PARITY_GATE',
  'KLS_ERR_CUDA_UNAVAILABLE',
  'KLS_ERR_EVAL_SET',
  'KLS_ERR_COMPILE',
  'KLS_ERR_POOL_OVERLOADED',
  'KLS_ERR_POOL_CLOSED',
  'KLS_ERR_INFERENCE',
  'KLS_ERR_WORKER_CRASH',
  'KLS_ERR_PRODUCE',
  'KLS_ERR_OUTPUT_TOO_LARGE',
  'KLS_ERR_FENCE',
  'KLS_ERR_CONSUMER_CRASH',
  'KLS_ERR_SHUTDOWN_TIMEOUT',
  'KLS_ERR_SWAP_BUSY',
  'KLS_ERR_SWAP_LOAD',
  'KLS_ERR_SWAP_LABELS',
  'KLS_ERR_SWAP_SAMPLE',
  'KLS_ERR_SWAP_PARITY',
  'KLS_ERR_SHADOW_REPORT',
  'KLS_ERR_BRANDS_CONFIG',
]);

/**
 * Rebuilds a typed error from its code and message: errors cross thread boundaries (inference workers)
 * as plain data, since structured cloning keeps neither the class nor the code. Unknown codes become `fallback`.
 */
export function errorFromCode(code: string, message: string, fallback: ErrorClass = InferenceError, options: KlassifyErrorOptions = {}): KlassifyError {
  const Cls = byCode.get(code) ?? fallback;
  return new Cls(message, options);
}

export function isKlassifyError(err: unknown): err is KlassifyError {
  return err instanceof KlassifyError;
}

/** The code of any thrown value: ours, a Node system error's, or a generic fallback. */
export function codeOf(err: unknown): string {
  if (isKlassifyError(err)) return err.code;
  return 'KLS_ERR_INTERNAL';
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
