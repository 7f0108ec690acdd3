/**
 * `npm run bench -- <name> [args…]` runs bench/<name>.ts (compiled to dist-bench/bench/<name>.js).
 * Benchmarks print figures; they never assert a time.
 */
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const [name, ...args] = process.argv.slice(2);
const available = readdirSync(__dirname)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${available.join('|')}> [args…]\n`);
  process.exit(name ? 2 : 0);
}
const r = spawnSync(process.execPath, ['--expose-gc', join(__dirname, `${name}.js`), ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
