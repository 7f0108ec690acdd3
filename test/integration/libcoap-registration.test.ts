import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { run, runCli } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';

/**
 * Interop with a peer nobody here wrote: libcoap's coap-client (Debian libcoap3-bin).
 * `-b 16` makes it send the registration payload block-wise with a new token per block.
 */
describe('libcoap coap-client against lwm2m-fota serve', () => {
  let tmp: ReturnType<typeof tempDir>;
  let srv: ServerProcess;

  beforeAll(async () => {
    tmp = tempDir();
    srv = await startServerProcess(tmp.dir);
  });
  afterAll(async () => {
    await srv.kill();
    tmp.remove();
  });

  it('registers block-wise, shows up in devices list --json, and de-registers', async () => {
    const reg = await run('coap-client-notls', [
      '-m', 'post', '-b', '16', '-t', '40', '-v', '6',
      '-e', '</1/0>,</3/0>,</5/0>',
      `coap://[::1]:${srv.coapPort}/rd?ep=x&lt=300&lwm2m=1.1&b=U`,
    ]);
    expect(reg.code).toBe(0);
    // coap-client -v 6 logs the response it received, including its Location-Path.
    const text = reg.stdout + reg.stderr;
    expect(text).toMatch(/2\.01/);

    const list = await runCli(['devices', 'list', '--json', '--server', `http://127.0.0.1:${srv.httpPort}`, '--data-dir', tmp.dir]);
    expect(list.code).toBe(0);
    const { devices } = JSON.parse(list.stdout) as { devices: Array<{ endpoint: string; registrationId: string; objectLinks: string[]; lwm2mVersion: string; lifetime: number }> };
    const x = devices.find((d) => d.endpoint === 'x')!;
    expect(x).toMatchObject({ objectLinks: ['/1/0', '/3/0', '/5/0'], lwm2mVersion: '1.1', lifetime: 300 });
    expect(text).toContain(`rd`);
    expect(text).toContain(x.registrationId);

    const del = await run('coap-client-notls', ['-m', 'delete', '-v', '6', `coap://[::1]:${srv.coapPort}/rd/${x.registrationId}`]);
    expect(del.code).toBe(0);
    expect(del.stdout + del.stderr).toMatch(/2\.02/);
    const after = await runCli(['devices', 'show', 'x', '--server', `http://127.0.0.1:${srv.httpPort}`, '--data-dir', tmp.dir]);
    expect(after.code).not.toBe(0);
    expect(after.stderr.trim().split('\n')).toHaveLength(1);
    expect(after.stderr).toContain('ERR_LWM2M_NOT_REGISTERED');
  });

  it('answers a registration without ep with 4.00 and a diagnostic', async () => {
    const res = await run('coap-client-notls', ['-m', 'post', '-t', '40', '-e', '</1/0>', `coap://[::1]:${srv.coapPort}/rd?lt=300`]);
    expect(res.stdout + res.stderr).toMatch(/4\.00|missing/);
  });
});
