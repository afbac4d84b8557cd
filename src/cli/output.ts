// What commands print: results to stdout (pipe-friendly), progress and diagnostics to stderr.
import { isKlassifyError, messageOf } from '../errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function info(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** One line a user can act on: "klassify: <code>: <message>", with the cause chain when debugging. */
export function failure(err: unknown, debug: boolean): string {
  const code = isKlassifyError(err) ? `${err.code}: ` : '';
  let text = `klassify: ${code}${messageOf(err)}`;
  if (debug && err instanceof Error) {
    text += `\n${err.stack ?? ''}`;
    if (err.cause !== undefined) text += `\ncaused by: ${err.cause instanceof Error ? (err.cause.stack ?? err.cause.message) : String(err.cause)}`;
  }
  return text;
}
