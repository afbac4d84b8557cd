// Regenerates what is derived from code (npm run docs, after a build): README.md's configuration table
// from the knob table, and schemas/model-manifest.schema.json from the manifest's zod schema.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const table = execFileSync(process.execPath, ['dist/src/cli/main.js', 'config', '--markdown']).toString().trim();
const readme = readFileSync('README.md', 'utf8');
writeFileSync('README.md', readme.replace(/<!-- knobs:start -->[\s\S]*<!-- knobs:end -->/, `<!-- knobs:start -->\n${table}\n<!-- knobs:end -->`));

const { manifestJsonSchema } = await import('../dist/src/model/manifest.js');
writeFileSync('schemas/model-manifest.schema.json', `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`);
