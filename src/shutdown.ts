// Waits for SIGINT/SIGTERM (TEI's shutdown.rs): the first signal asks for a graceful stop, a second one
// exits at once (the user insists; uncommitted records will be redone by the next run).
export function onShutdownSignal(handler: (signal: NodeJS.Signals) => void): void {
  let received = false;
  const on = (signal: NodeJS.Signals): void => {
    if (received) {
      process.stderr.write(`klassify: second ${signal}, exiting now\n`);
      process.exit(130);
    }
    received = true;
    handler(signal);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
}
