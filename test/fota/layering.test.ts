/**
 * DESIGN.md's layer rule for fota: it reaches devices only through `lwm2m/server`
 * operations and touches `src/coap` only to serve /fw — so no file of src/fota but
 * src/fota/firmware/coap-route.ts imports src/coap.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const FOTA = join(ROOT, 'src', 'fota');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

test('nothing in src/fota imports src/coap except the /fw route', () => {
  const offenders = files(FOTA)
    .filter((f) => relative(ROOT, f) !== join('src', 'fota', 'firmware', 'coap-route.ts'))
    .filter((f) => /from\s+'(\.\.\/)+coap(\/[^']*)?'/.test(readFileSync(f, 'utf8')))
    .map((f) => relative(ROOT, f));
  expect(offenders).toEqual([]);
});
