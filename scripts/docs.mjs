// Regenerates README.md's configuration table from the knob table (npm run docs).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const table = execFileSync(process.execPath, ['dist/src/cli/main.js', 'config', '--markdown']).toString().trim();
const readme = readFileSync('README.md', 'utf8');
writeFileSync('README.md', readme.replace(/<!-- knobs:start -->[\s\S]*<!-- knobs:end -->/, `<!-- knobs:start -->\n${table}\n<!-- knobs:end -->`));
