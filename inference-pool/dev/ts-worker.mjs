// Worker entry when the pool runs from TypeScript source (vitest): see ../worker-file.ts. Registers the
// TypeScript hooks in this thread, then hands piscina the real handler. Never used from dist/.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
const worker = await import('../worker.ts');

export default worker.default;
