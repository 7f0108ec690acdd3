/**
 * What a new operator meets first, without a device: `--version`, help with an Arguments
 * section, usage errors (exit 2) for a bad `--server` or `--format`, and `serve` refusing a
 * bad configuration with one stderr line and a non-zero exit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';

jest.setTimeout(60_000);

const noToken = { LWM2M_FOTA_TOKEN: 'unused-token' };

test('--version prints the version of package.json', async () => {
  const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  const out = await runCli(['--version']);
  expect(out.code).toBe(0);
  expect(out.stdout.trim()).toBe(version);
});

test.each([
  [['update'], 'endpoint'],
  [['status'], 'endpoint'],
  [['cancel'], 'endpoint'],
  [['discover'], 'path'],
  [['read'], 'path'],
  [['exec'], 'path'],
  [['devices', 'show'], 'endpoint'],
  [['firmware', 'show'], 'id'],
  [['keys', 'show'], 'file'],
  [['manifest', 'show'], 'envelope'],
])('%s --help has an Arguments section describing <%s>', async (cmd, arg) => {
  const out = await runCli([...cmd, '--help']);
  expect(out.code).toBe(0);
  expect(out.stdout).toMatch(new RegExp(`\\nArguments:\\n(  .*\\n)*  ${arg} +\\S`));
});

test('status --help offers --follow', async () => {
  const out = await runCli(['status', '--help']);
  expect(out.stdout).toMatch(/--follow/);
});

test.each([
  [['devices', 'list', '--server', 'notaurl'], /ERR_CLI_USAGE: --server must be the URL of the REST API/],
  [['status', 'x', '--server', 'ftp://host/'], /ERR_CLI_USAGE: --server must be an http:\/\/ or https:\/\/ URL/],
  [['read', 'x', '/3/0', '--format', 'foo'], /ERR_CLI_USAGE: .*unknown content format "foo"/],
  [['status', 'x', '--timeout', '5'], /ERR_CLI_USAGE: --timeout only applies with --follow/],
  [['serve', '--awake-window', '0'], /ERR_CLI_USAGE: --awake-window must be between 1 and 86400/],
])('%s is a usage error: one line, exit 2', async (args, message) => {
  const out = await runCli(args, noToken);
  expect(out.code).toBe(2);
  expect(out.stderr.trim().split('\n')).toHaveLength(1);
  expect(out.stderr).toMatch(message);
});

describe('serve refuses a bad configuration with one stderr line and exit 1', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.remove());

  test('--objects naming a folder that does not exist', async () => {
    const out = await runCli(['serve', '--data-dir', tmp.dir, '--coap-port', '0', '--http-port', '0', '--objects', join(tmp.dir, 'nonexistent')], {}, 20_000);
    expect(out.code).toBe(1);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(/^lwm2m-fota: ERR_LWM2M_MODEL: --objects: .*nonexistent: cannot read folder/);
    // It never started, and no error went to stdout.
    expect(out.stdout).not.toMatch(/listening|error/i);
  });

  test('--objects with a definition that does not load', async () => {
    const { writeFileSync, mkdirSync } = await import('node:fs');
    mkdirSync(join(tmp.dir, 'objs'));
    writeFileSync(join(tmp.dir, 'objs', 'broken.xml'), '<LWM2M><Object><ObjectID>not a number');
    const out = await runCli(['serve', '--data-dir', join(tmp.dir, 'data'), '--coap-port', '0', '--http-port', '0', '--objects', join(tmp.dir, 'objs')], {}, 20_000);
    expect(out.code).toBe(1);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(/^lwm2m-fota: ERR_LWM2M_MODEL: --objects: .*broken\.xml/);
    expect(out.stdout).not.toMatch(/listening/);
  });

  test('--data-dir that cannot be created (/proc/nope) fails fast', async () => {
    const started = Date.now();
    const out = await runCli(['serve', '--data-dir', '/proc/nope', '--coap-port', '0', '--http-port', '0'], {}, 20_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(out.code).toBe(1);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(/^lwm2m-fota: ERR_STORE_OPEN: cannot create data directory \/proc\/nope/);
    expect(out.stdout).toBe('');
  });
});
