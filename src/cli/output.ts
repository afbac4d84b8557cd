// What commands print: results to stdout (pipe-friendly), progress and diagnostics to stderr.
import { isKlassifyError, messageOf } from '../errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function info(line: string): void {
  process.stderr.write(`${line}\n`);
}

// Node's TLS errors name the symptom, not the setting that fixes it.
const UNTRUSTED_CERT = /self[- ]signed certificate|unable to (verify the first|get local issuer) certificate/i;

/** One line a user can act on: "klassify: <code>: <message>", with the cause chain when debugging. */
export function failure(err: unknown, debug: boolean): string {
  const code = isKlassifyError(err) ? `${err.code}: ` : '';
  const message = messageOf(err);
  let text = `klassify: ${code}${message}`;
  if (UNTRUSTED_CERT.test(message)) text += " (the broker's certificate is not signed by a CA this machine trusts: set KAFKA_SSL_CA to that CA's PEM file)";
  if (debug && err instanceof Error) {
    text += `\n${err.stack ?? ''}`;
    if (err.cause !== undefined) text += `\ncaused by: ${err.cause instanceof Error ? (err.cause.stack ?? err.cause.message) : String(err.cause)}`;
  }
  return text;
}
