import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface ServerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly coapPort: number;
  readonly httpPort: number;
  output(): string;
  /** Resolves when a line matching `re` has been printed (or rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs `lwm2m-fota serve` from the built CLI as a child process on free ports and waits
 * until it prints where it listens.
 */
export async function startServerProcess(dataDir: string, extraArgs: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', dataDir, '--coap-port', '0', '--coap-host', '::', '--http-port', '0', ...extraArgs], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, LWM2M_FOTA_TOKEN: '' },
  });
  let out = '';
  const waiters: Array<{ re: RegExp; resolve: (line: string) => void }> = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = w.re.exec(out);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m[0]);
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waitFor = (re: RegExp, ms = 15000): Promise<string> =>
    new Promise((resolve, reject) => {
      const m = re.exec(out);
      if (m) return resolve(m[0]);
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${out}`)), ms);
      waiters.push({
        re,
        resolve: (line) => {
          clearTimeout(t);
          resolve(line);
        },
      });
      void exited.then(() => {
        clearTimeout(t);
        reject(new Error(`server exited before ${re}:\n${out}`));
      });
    });
  const coapLine = await waitFor(/coap:\/\/\[[^\]]*\]:(\d+)/);
  const httpLine = await waitFor(/http:\/\/[\d.]+:(\d+)/);
  return {
    child,
    coapPort: Number(/:(\d+)$/.exec(coapLine)![1]),
    httpPort: Number(/:(\d+)$/.exec(httpLine)![1]),
    output: () => out,
    waitFor,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
