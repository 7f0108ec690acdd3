/**
 * The layer rules of DESIGN.md ("Layers"), checked on the source: every relative import,
 * `export … from`, `require()` and `import()` of every file under src/ is resolved to a
 * file or folder of src/, and each rule names the imports it forbids. A failure lists every
 * offending import as `src/<file> imports src/<target>`.
 *
 * The parse is a regular expression, not the compiler: it reads specifiers in comments as
 * well, which errs on the strict side (a TSDoc example importing a relative path would have
 * to obey the rules too).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const SRC = resolve(__dirname, '..', 'src');

interface Import {
  /** The importing file, relative to src/ with forward slashes ('fota/update/service.ts'). */
  readonly from: string;
  /** What it imports, relative to src/ without extension ('coap/types', 'index', 'suit'). */
  readonly target: string;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p);
    return /\.(ts|js)$/.test(e.name) ? [p] : [];
  });
}

const toPosix = (p: string): string => p.split(sep).join('/');

/** `import … from 'x'`, `import 'x'`, `export … from 'x'`, `require('x')`, `import('x')`. */
const SPECIFIER =
  /\bimport\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]|\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s+from\s+['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]\s*\)|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const from = toPosix(relative(SRC, file));
  const out: Import[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (spec === undefined || !spec.startsWith('.')) continue; // packages and node: builtins
    const target = toPosix(relative(SRC, resolve(dirname(file), spec))).replace(/\.(ts|js)$/, '').replace(/\/index$/, '');
    out.push({ from, target });
  }
  return out;
}

const ALL: readonly Import[] = filesUnder(SRC).flatMap(importsOf);

/** True when `path` (relative to src/, no extension) is `area` or inside it. */
function within(path: string, area: string): boolean {
  return path === area || path.startsWith(`${area}/`);
}

const describeImport = (i: Import): string => `src/${i.from} imports src/${i.target}`;

/** The imports of files in `fromArea` that `allowed` refuses, minus the listed exceptions. */
function offenders(fromArea: string, allowed: (target: string) => boolean, except: readonly string[] = []): string[] {
  return ALL.filter((i) => within(i.from.replace(/\.(ts|js)$/, ''), fromArea) && !except.includes(i.from) && !allowed(i.target)).map(describeImport);
}

const nothingFrom =
  (...areas: string[]) =>
  (target: string): boolean =>
    !areas.some((a) => within(target, a));
const onlyFrom =
  (...areas: string[]) =>
  (target: string): boolean =>
    areas.some((a) => within(target, a));

/**
 * fota files allowed to import src/coap: the `/fw` route, which is a CoAP resource. Nothing
 * else under src/fota/firmware needs coap types today; add a file here only with a reason.
 */
const FOTA_COAP_EXCEPTIONS = ['fota/firmware/coap-route.ts'] as const;


describe('the layer rules of DESIGN.md hold in the imports of src/', () => {
  it('finds the imports it checks (the parser is not blind)', () => {
    expect(ALL.length).toBeGreaterThan(200);
    expect(ALL).toContainEqual({ from: 'fota/firmware/coap-route.ts', target: 'coap/types' });
    expect(ALL).toContainEqual({ from: 'cli/commands/serve.ts', target: 'index' });
  });

  it('fota imports src/coap only to serve /fw (fota/firmware/coap-route.ts)', () => {
    expect(offenders('fota', nothingFrom('coap'), FOTA_COAP_EXCEPTIONS)).toEqual([]);
  });

  it('the CLI imports only itself, the public API (src/index.ts) and the SUIT library', () => {
    expect(offenders('cli', onlyFrom('cli', 'index', 'suit'))).toEqual([]);
  });

  it('coap imports nothing of lwm2m, fota, api, cli or the device emulator', () => {
    expect(offenders('coap', nothingFrom('lwm2m', 'fota', 'api', 'cli', 'device', 'index', 'server'))).toEqual([]);
  });

  it('lwm2m/core imports nothing of lwm2m/server, fota, api or cli', () => {
    expect(offenders('lwm2m/core', nothingFrom('lwm2m/server', 'fota', 'api', 'cli', 'device', 'index', 'server'))).toEqual([]);
  });

  it('lwm2m/server imports nothing of fota, api or cli', () => {
    expect(offenders('lwm2m/server', nothingFrom('fota', 'api', 'cli', 'device', 'index', 'server'))).toEqual([]);
  });

  it('fota imports nothing of api or cli (the JSON views live in src/api/views)', () => {
    expect(offenders('fota', nothingFrom('api', 'cli', 'device', 'index', 'server'))).toEqual([]);
  });

  it('api imports nothing of cli', () => {
    expect(offenders('api', nothingFrom('cli', 'device', 'index'))).toEqual([]);
  });

  it('the CBOR core (src/cbor) depends on nothing else in src/', () => {
    expect(offenders('cbor', onlyFrom('cbor'))).toEqual([]);
  });

  it('suit and store depend on nothing else in src/ but src/errors.ts (suit also on the CBOR core)', () => {
    expect(offenders('suit', onlyFrom('suit', 'errors', 'cbor'))).toEqual([]);
    expect(offenders('store', onlyFrom('store', 'errors'))).toEqual([]);
  });

  it('the device emulator uses only coap, lwm2m/core and suit (and src/errors.ts)', () => {
    expect(offenders('device', onlyFrom('device', 'coap', 'lwm2m/core', 'suit', 'errors'))).toEqual([]);
  });
});
