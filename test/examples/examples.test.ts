import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const EXAMPLES = join(__dirname, '..', '..', 'examples');

describe('examples', () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.ts'));

  it('exist and import nothing but the public API', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const imports = [...readFileSync(join(EXAMPLES, f), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
      for (const i of imports) expect([f, i]).toEqual([f, expect.stringMatching(/^(node:|\.\.\/src\/index$)/)]);
    }
  });

  it.each(files)('%s runs to a successful end', (file) => {
    // Compiled by `npm test` (build:bench compiles examples too) into dist-bench/examples.
    const js = join(__dirname, '..', '..', 'dist-bench', 'examples', file.replace(/\.ts$/, '.js'));
    const out = execFileSync(process.execPath, [js], { encoding: 'utf8', timeout: 90_000 });
    expect(out).toMatch(/update succeeded; the device now runs 2\.0\.0/);
  });
});
