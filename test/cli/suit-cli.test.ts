/**
 * The offline SUIT commands, run as a user runs them: `node dist/cli/main.js …` in a
 * scratch directory.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'cli', 'main.js');
const VECTORS = join(ROOT, 'test', 'vectors', 'suit');
let dir: string;

function cli(...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [MAIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
}

/** The one stderr line of a failed command. */
function errorLine(r: SpawnSyncReturns<string>): string {
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

beforeAll(() => {
    // dist/ is built once before any test runs (jest globalSetup): rebuilding it here would race with other tests' child processes.
  expect(existsSync(MAIN)).toBe(true);
  expect(existsSync(join(ROOT, 'dist', 'suit', 'index.js'))).toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'suit-cli-'));
  writeFileSync(join(dir, 'fw.bin'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) & 0xff)));
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('lwm2m-fota keys / manifest', () => {
  it('generates an ESP256 and an Ed25519 key pair, private keys with mode 0600', () => {
    for (const [alg, prefix] of [
      ['esp256', 'oem'],
      ['ed25519', 'operator'],
    ]) {
      const r = cli('keys', 'generate', '--alg', alg!, '--out', prefix!);
      expect(r.status).toBe(0);
      expect(statSync(join(dir, `${prefix}.key.pem`)).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, `${prefix}.key.pem`), 'utf8')).toContain('BEGIN PRIVATE KEY');
      expect(readFileSync(join(dir, `${prefix}.pub.pem`), 'utf8')).toContain('BEGIN PUBLIC KEY');
    }
    // never overwrites a key silently
    const again = cli('keys', 'generate', '--alg', 'esp256', '--out', 'oem');
    expect(again.status).not.toBe(0);
    expect(errorLine(again)).toMatch(/^lwm2m-fota: ERR_CLI_IO: .*exists/);
  });

  it('creates a manifest signed by both keys; verify requiring both accepts it', () => {
    const c = cli(
      'manifest', 'create', '--image', 'fw.bin', '--seq', '7', '--vendor-domain', 'example.com', '--class-name', 'sensor-v2',
      '--uri', 'coaps://fw.example.com/fw.bin', '--fw-version', '2.0.1', '--description', 'spring release',
      '--key', 'oem.key.pem', '--key', 'operator.key.pem', '--out', 'fw.suit',
    );
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    const v = cli('manifest', 'verify', 'fw.suit', '--key', 'oem.pub.pem', '--key', 'operator.pub.pem', '--require-all',
      '--min-seq', '7', '--vendor-domain', 'example.com', '--class-name', 'sensor-v2', '--json');
    expect(v.status).toBe(0);
    const j = JSON.parse(v.stdout);
    expect(j.valid).toBe(true);
    expect(j.sequenceNumber).toBe(7);
    expect(j.signatures.map((s: { alg: string; verified: boolean }) => [s.alg, s.verified])).toEqual([
      ['ESP256', true],
      ['Ed25519', true],
    ]);
    expect(j.signatures.every((s: { kid: string | null }) => typeof s.kid === 'string')).toBe(true);
    const sha = createHash('sha256').update(readFileSync(join(dir, 'fw.bin'))).digest('hex');
    expect(j.components).toEqual([
      {
        index: 0,
        id: ['00'],
        vendorId: 'cfbff0d1-9375-5685-968c-48ce8b15ae17',
        classId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        imageDigest: { alg: 'sha-256', hex: sha },
        imageSize: 4096,
        uri: 'coaps://fw.example.com/fw.bin',
        uris: ['coaps://fw.example.com/fw.bin'],
      },
    ]);
    expect(j.text['en-US']['manifest-description']).toBe('spring release');
    expect(j.text['en-US'].components[0]['component-version']).toBe('2.0.1');
  });

  it('verify fails when one of the two signers is missing from the trust set', () => {
    const v = cli('manifest', 'verify', 'fw.suit', '--key', 'oem.pub.pem', '--require-all');
    expect(v.status).toBe(1);
    expect(errorLine(v)).toMatch(/^lwm2m-fota: ERR_SUIT_SIGNATURE_INVALID: /);
    const j = cli('manifest', 'verify', 'fw.suit', '--key', 'oem.pub.pem', '--require-all', '--json');
    expect(j.status).toBe(1);
    expect(JSON.parse(j.stdout)).toEqual({ valid: false, error: { code: 'ERR_SUIT_SIGNATURE_INVALID', message: expect.any(String) } });
    expect(errorLine(j)).toContain('ERR_SUIT_SIGNATURE_INVALID');
    // without --require-all one trusted signature is enough
    expect(cli('manifest', 'verify', 'fw.suit', '--key', 'oem.pub.pem').status).toBe(0);
  });

  it('verify rejects rollback, a foreign class and an untrusted key, each with its own code', () => {
    const cases: Array<[string[], string]> = [
      [['--key', 'oem.pub.pem', '--min-seq', '8'], 'ERR_SUIT_ROLLBACK'],
      [['--key', 'oem.pub.pem', '--vendor-domain', 'example.com', '--class-name', 'gateway'], 'ERR_SUIT_CLASS_MISMATCH'],
      [['--key', 'oem.pub.pem', '--vendor-domain', 'example.org'], 'ERR_SUIT_VENDOR_MISMATCH'],
    ];
    for (const [args, code] of cases) {
      const v = cli('manifest', 'verify', 'fw.suit', ...args);
      expect(v.status).toBe(1);
      expect(errorLine(v)).toContain(`ERR_SUIT_`);
      expect(errorLine(v).split(': ')[1]).toBe(code);
    }
    cli('keys', 'generate', '--alg', 'esp256', '--out', 'stranger');
    const s = cli('manifest', 'verify', 'fw.suit', '--key', 'stranger.pub.pem');
    expect(errorLine(s).split(': ')[1]).toBe('ERR_SUIT_SIGNATURE_INVALID');
  });

  it('sign appends a signature to an unsigned envelope; the first one stays', () => {
    expect(cli('manifest', 'create', '--image', 'fw.bin', '--seq', '8', '--vendor-domain', 'example.com', '--class-name', 'sensor-v2',
      '--relative-uri', '--out', 'u.suit').status).toBe(0);
    expect(errorLine(cli('manifest', 'verify', 'u.suit', '--key', 'oem.pub.pem')).split(': ')[1]).toBe('ERR_SUIT_UNSIGNED');
    expect(cli('manifest', 'sign', 'u.suit', '--key', 'operator.key.pem', '--kid', 'operator', '--out', 's1.suit').status).toBe(0);
    expect(cli('manifest', 'sign', 's1.suit', '--key', 'oem.key.pem', '--kid', 'oem', '--out', 's2.suit').status).toBe(0);
    const s1 = readFileSync(join(dir, 's1.suit'));
    const s2 = readFileSync(join(dir, 's2.suit'));
    expect(s2.length).toBeGreaterThan(s1.length);
    const v = cli('manifest', 'verify', 's2.suit', '--key', 'oem.pub.pem', '--key', 'operator.pub.pem', '--require-all', '--json');
    expect(v.status).toBe(0);
    const j = JSON.parse(v.stdout);
    const sha = createHash('sha256').update(readFileSync(join(dir, 'fw.bin'))).digest('hex');
    expect(j.components[0].uri).toBe(`/fw/${sha}`);
    expect(j.signatures.map((s: { kid: string }) => Buffer.from(s.kid, 'hex').toString())).toEqual(['operator', 'oem']);
  });

  it('show prints the tree, and with --json the schema, without verifying', () => {
    const t = cli('manifest', 'show', 'fw.suit');
    expect(t.status).toBe(0);
    expect(t.stdout).toContain('NOT VERIFIED');
    expect(t.stdout).toContain('condition-vendor-identifier');
    const j = JSON.parse(cli('manifest', 'show', 'fw.suit', '--json').stdout);
    expect(j.valid).toBe(false);
    expect(j.sequenceNumber).toBe(7);
    expect(j.signatures.map((s: { verified: boolean }) => s.verified)).toEqual([false, false]);
    expect(j.components[0].uri).toBe('coaps://fw.example.com/fw.bin');
  });

  it('verifies a draft example with the draft key and shows its components', () => {
    writeFileSync(join(dir, 'example1.suit'), Buffer.from(readFileSync(join(VECTORS, 'example1.hex'), 'utf8').trim(), 'hex'));
    const expected = JSON.parse(readFileSync(join(VECTORS, 'expected.json'), 'utf8')) as { publicKey: { spkiPem: string } };
    writeFileSync(join(dir, 'draft.pub.pem'), expected.publicKey.spkiPem + '\n');
    const v = cli('manifest', 'verify', 'example1.suit', '--key', 'draft.pub.pem', '--vendor-domain', 'arm.com', '--class-name', 'suit', '--json');
    expect(v.status).toBe(0);
    const j = JSON.parse(v.stdout);
    expect(j.components[0].vendorId).toBe('fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe');
    expect(j.components[0].classId).toBe('1492af14-2569-5e48-bf42-9b2d51f2ab45');
    expect(j.signatures[0]).toMatchObject({ alg: 'ES256', verified: true });
  });

  it('reports every alternative of the draft\'s A/B example (try-each): slot, digest, size and URI', () => {
    writeFileSync(join(dir, 'example3.suit'), Buffer.from(readFileSync(join(VECTORS, 'example3.hex'), 'utf8').trim(), 'hex'));
    const expected = JSON.parse(readFileSync(join(VECTORS, 'expected.json'), 'utf8')) as { publicKey: { spkiPem: string } };
    writeFileSync(join(dir, 'draft.pub.pem'), expected.publicKey.spkiPem + '\n');
    const alternatives = [
      { slot: 0, imageDigest: { alg: 'sha-256', hex: '00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210' }, imageSize: 34768, uri: 'http://example.com/file1.bin' },
      { slot: 1, imageDigest: { alg: 'sha-256', hex: '0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff' }, imageSize: 76834, uri: 'http://example.com/file2.bin' },
    ];
    const v = cli('manifest', 'verify', 'example3.suit', '--key', 'draft.pub.pem', '--json');
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout).components[0].alternatives).toEqual(alternatives);
    const s = cli('manifest', 'show', 'example3.suit', '--json');
    expect(JSON.parse(s.stdout).components[0].alternatives).toEqual(alternatives);
    const t = cli('manifest', 'show', 'example3.suit');
    expect(t.stdout).toContain('alternative slot 0: image sha-256:00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210, 34768 bytes, uri http://example.com/file1.bin');
    expect(t.stdout).toContain('alternative slot 1: image sha-256:0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff, 76834 bytes, uri http://example.com/file2.bin');
  });

  it('a truncated or random file fails with one line and a non-zero exit', () => {
    writeFileSync(join(dir, 'cut.suit'), readFileSync(join(dir, 'fw.suit')).subarray(0, 100));
    expect(errorLine(cli('manifest', 'verify', 'cut.suit', '--key', 'oem.pub.pem')).split(': ')[1]).toBe('ERR_SUIT_CBOR');
    expect(errorLine(cli('manifest', 'show', 'cut.suit')).split(': ')[1]).toBe('ERR_SUIT_CBOR');
  });

  it('usage errors exit 2', () => {
    const r = cli('manifest', 'create', '--image', 'fw.bin', '--seq', '1', '--vendor-domain', 'a', '--class-name', 'b', '--out', 'x.suit');
    expect(r.status).toBe(2);
    expect(errorLine(r)).toMatch(/^lwm2m-fota: ERR_CLI_USAGE: /);
    expect(cli('keys', 'generate', '--alg', 'rsa', '--out', 'k').status).toBe(2);
  });
});
