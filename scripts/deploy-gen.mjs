// Regenerates what the deployment files derive from the knob table (after a build: npm run build first):
// the Helm chart's values.yaml config/secretRefs blocks, values.schema.json and templates/_knobs.tpl, and
// docker-compose.yml's klassify environment. test/unit/deploy-gen.test.ts fails until they are regenerated.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { generatedFiles } = await import('../dist/src/deploy/generate.js');
for (const file of generatedFiles((p) => readFileSync(join(root, p), 'utf8'))) {
  const path = join(root, file.path);
  let old = '';
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    // a new file
  }
  if (old !== file.content) {
    writeFileSync(path, file.content);
    process.stdout.write(`wrote ${file.path}\n`);
  }
}
