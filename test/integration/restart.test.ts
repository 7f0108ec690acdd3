import { createCoapEndpoint } from '../../src/coap';
import { startServerProcess } from '../helpers/server-process';
import { runCli } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';

const FAST = { ackTimeoutMs: 300, ackRandomFactor: 1.0, maxRetransmit: 3 };

describe('a server killed with SIGKILL', () => {
  it('still knows every device that registered when it starts again', async () => {
    const tmp = tempDir();
    const device = await createCoapEndpoint({ port: 0, host: '::1', transmission: FAST });
    try {
      let srv = await startServerProcess(tmp.dir);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await device.request(
          { address: '::1', port: srv.coapPort },
          { method: 'POST', path: '/rd', query: [`ep=persist-${i}`, 'lt=3600', 'lwm2m=1.1'], payload: Buffer.from('</1/0>,</3/0>,</5/0>'), contentFormat: 40 },
        );
        expect(res.code).toBe('2.01');
        ids.push(res.locationPath[1]!);
      }
      await srv.kill('SIGKILL');

      srv = await startServerProcess(tmp.dir);
      try {
        const list = await runCli(['devices', 'list', '--json', '--server', `http://127.0.0.1:${srv.httpPort}`, '--data-dir', tmp.dir]);
        expect(list.stderr).toBe('');
        expect(list.code).toBe(0);
        const { devices } = JSON.parse(list.stdout) as { devices: Array<{ endpoint: string; registrationId: string }> };
        expect(devices.map((d) => d.registrationId).sort()).toEqual([...ids].sort());
        // The old registration ids still work for updates after the restart.
        const upd = await device.request({ address: '::1', port: srv.coapPort }, { method: 'POST', path: `/rd/${ids[3]}` });
        expect(upd.code).toBe('2.04');
      } finally {
        await srv.kill();
      }
    } finally {
      await device.close();
      tmp.remove();
    }
  });
});
