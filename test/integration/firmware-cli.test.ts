/**
 * `lwm2m-fota firmware …` as an operator runs it, against `lwm2m-fota serve --trust <pub.pem>`
 * in a child process; then a device-side fetch of what was added with libcoap.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli } from '../helpers/cli';
import { CLI, startServerProcess, type ServerProcess } from '../helpers/server-process';
import { tempDir } from '../helpers/tmp';
import { envelopeFor, image, oem, sha256, stranger } from '../fota/firmware/fixtures';


let tmp: ReturnType<typeof tempDir>;
let server: ServerProcess;
let dataDir: string;
const img = image(30_000, 5);
const env = envelopeFor(img);

function connection(): string[] {
  return ['--server', `http://127.0.0.1:${server.httpPort}`, '--data-dir', dataDir];
}

beforeAll(async () => {
    // dist/ is built once before any test runs (jest globalSetup): rebuilding it here would race with other tests' child processes.
  expect(existsSync(CLI)).toBe(true);
  tmp = tempDir('fw-cli-');
  dataDir = join(tmp.dir, 'data');
  writeFileSync(join(tmp.dir, 'oem.pub.pem'), oem.publicPem);
  writeFileSync(join(tmp.dir, 'fw.bin'), img);
  writeFileSync(join(tmp.dir, 'fw.suit'), env);
  writeFileSync(join(tmp.dir, 'bad.suit'), envelopeFor(img, { relativeUri: true }, { signers: [stranger.privateKey] }));
  server = await startServerProcess(dataDir, ['--trust', join(tmp.dir, 'oem.pub.pem')]);
}, 180_000);

afterAll(async () => {
  await server?.kill();
  tmp?.remove();
});

describe('lwm2m-fota firmware', () => {
  it('add <envelope> --image <file> --json prints the record; the server serves both files', async () => {
    const r = await runCli(['firmware', 'add', join(tmp.dir, 'fw.suit'), '--image', join(tmp.dir, 'fw.bin'), '--json', ...connection()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({
      id: sha256(env),
      version: '2.1.0',
      sequenceNumber: 7,
      size: env.length,
      uri: `/fw/${sha256(env)}`,
      payload: { digest: sha256(img), size: img.length, uri: `/fw/${sha256(img)}` },
    });
    expect(j.classId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const out = join(tmp.dir, 'fetched.bin');
    const got = await run('coap-client-notls', ['-b', '64', '-o', out, `coap://[::1]:${server.coapPort}/fw/${sha256(env)}`]);
    expect(got.code).toBe(0);
    expect(readFileSync(out)).toEqual(env);
  });

  it('list --json and show <prefix> --json', async () => {
    const l = await runCli(['firmware', 'list', '--json', ...connection()]);
    expect(l.code).toBe(0);
    const list = JSON.parse(l.stdout) as Array<{ id: string; version: string }>;
    expect(list.map((f) => [f.id, f.version])).toEqual([[sha256(env), '2.1.0']]);
    const s = await runCli(['firmware', 'show', sha256(env).slice(0, 10), '--json', ...connection()]);
    expect(s.code).toBe(0);
    expect((JSON.parse(s.stdout) as { id: string }).id).toBe(sha256(env));
    const table = await runCli(['firmware', 'list', ...connection()]);
    expect(table.stdout).toMatch(new RegExp(`^${sha256(env)}\\s+2\\.1\\.0\\s+7\\s`, 'm'));
  });

  it('a rejected envelope: one stderr line with the code, non-zero exit, nothing added', async () => {
    const r = await runCli(['firmware', 'add', join(tmp.dir, 'bad.suit'), '--image', join(tmp.dir, 'fw.bin'), '--json', ...connection()]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^lwm2m-fota: ERR_FOTA_FIRMWARE_REJECTED: ERR_SUIT_SIGNATURE_INVALID: /);
    const l = await runCli(['firmware', 'list', '--json', ...connection()]);
    expect((JSON.parse(l.stdout) as unknown[]).length).toBe(1);
  });

  it('a manifest fetching from this server, added without its image: ERR_FOTA_IMAGE_MISSING', async () => {
    const other = envelopeFor(image(100, 6));
    writeFileSync(join(tmp.dir, 'noimg.suit'), other);
    const r = await runCli(['firmware', 'add', join(tmp.dir, 'noimg.suit'), ...connection()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(/^lwm2m-fota: ERR_FOTA_IMAGE_MISSING: .*--image$/);
  });

  it('remove <id> removes it; the CoAP URI is gone', async () => {
    const r = await runCli(['firmware', 'remove', sha256(env), ...connection()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`removed ${sha256(env)}\n`);
    const got = await run('coap-client-notls', ['-B', '3', `coap://[::1]:${server.coapPort}/fw/${sha256(env)}`]);
    expect(got.stdout + got.stderr).toMatch(/4\.04/);
  });

  it('a server started without --trust refuses every firmware', async () => {
    const bare = await startServerProcess(join(tmp.dir, 'bare'));
    try {
      await bare.waitFor(/no --trust or --policy given/);
      const r = await runCli(['firmware', 'add', join(tmp.dir, 'fw.suit'), '--image', join(tmp.dir, 'fw.bin'), '--server', `http://127.0.0.1:${bare.httpPort}`, '--data-dir', join(tmp.dir, 'bare')]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim()).toMatch(/^lwm2m-fota: ERR_FOTA_TRUST_NOT_CONFIGURED: /);
    } finally {
      await bare.kill();
    }
  });
});
