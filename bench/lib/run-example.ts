/**
 * `npm run example -- <name>` runs examples/<name>.ts (compiled to dist-bench/examples/<name>.js).
 * Without a name, or with one that does not exist, it lists the examples on stderr (exit 2).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(__dirname, '..', '..', 'examples');
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.js'))
  .map((f) => f.slice(0, -3));
const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  process.stderr.write(`${name ? `lwm2m-fota: no example named "${name}". ` : ''}usage: npm run example -- <${available.join('|')}>\n`);
  process.exit(2);
}
const r = spawnSync(process.execPath, [join(dir, `${name}.js`), ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
