/**
 * The README runs as written: every ```sh block of README.md, in order, line by line as
 * printed, in one bash session in a temporary folder, against real servers and emulated
 * devices on loopback. Any command that exits non-zero without the README announcing it
 * fails the test, with the command, its README line and its output.
 *
 * The blocks are read from README.md itself, so the README cannot drift from what works.
 * What a test environment needs, and nothing else, is adapted here:
 *
 * | README                         | here                                                        |
 * |--------------------------------|-------------------------------------------------------------|
 * | `npx lwm2m-fota …`             | the built CLI (dist/cli/main.js), through an `npx` on PATH   |
 * | ports 5683 and 8080            | two free ports: replaced in the commands' text, and given to |
 * |                                | `serve` (--coap-port/--http-port) and to the commands that   |
 * |                                | talk to the server (--server) by that `npx`                  |
 * | `npm ci && npm start`          | `npx lwm2m-fota serve &`: npm ci would reinstall node_modules, and npm start is that serve run from the checkout (whose ./data is not the test's) |
 * | `npm test`                     | not run: it is the runner of this very test                 |
 * | `… &` (a background job)       | tracked, and ended (SIGTERM, then SIGKILL) when the test ends |
 * | a background `serve … &`       | first stops the server started before it (the README tells the reader to) and waits until the new one listens |
 * | a background `simulate … &`    | waits until its device has registered                        |
 * | `# … until Ctrl-C` on a line   | runs for 3 s, then gets Ctrl-C (SIGINT); must exit 0 (curl: or die of it, 130) |
 * | `# exits N` on a line          | must exit with status N                                     |
 * | `curl -s …` printing `{"error"…}` or `"success": false` | fails like a non-zero exit (curl exits 0 on any HTTP answer) |
 *
 * Every command is bounded (60 s) and the whole run takes well under three minutes.
 * libcoap's `coap-client-notls` lines run too: without it the test fails and says how to
 * install it.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createConnection, createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { CLI } from './helpers/server-process';
import { tempDir } from './helpers/tmp';

const README = join(__dirname, '..', 'README.md');
const COMMAND_TIMEOUT_MS = 60_000;
const CTRL_C_AFTER_S = 3;

/** The only lines not run as printed; anything else from npm fails as unmapped. */
const MAPPED: ReadonlyArray<{ command: string; run: string | undefined; reason: string }> = [
  { command: 'npm ci && npm start', run: 'npx lwm2m-fota serve &', reason: 'node_modules is in place; npm start is `serve` from the checkout, run here in the test folder' },
  { command: 'npm test', run: undefined, reason: 'npm test runs this test' },
];

interface ReadmeCommand {
  /** 1-based line in README.md where the command starts. */
  readonly line: number;
  /** The command as printed (continuation lines joined with their backslash-newline). */
  readonly text: string;
  /** The comment of its last line, if any. */
  readonly comment: string;
}

/** The comment of a shell line: from the first `#` outside quotes that starts a word. */
function commentOf(line: string): string {
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '\\') i++;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(i + 1).trim();
  }
  return '';
}

/** Every command of every ```sh block of a README, in order. */
function readmeCommands(markdown: string): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  const lines = markdown.split('\n');
  let inSh = false;
  let pending: { line: number; parts: string[] } | undefined;
  lines.forEach((l, i) => {
    if (!inSh) {
      if (/^```sh\s*$/.test(l)) inSh = true;
      return;
    }
    if (/^```\s*$/.test(l)) {
      if (pending) throw new Error(`README.md:${pending.line}: a command continues past the end of its block`);
      inSh = false;
      return;
    }
    if (pending === undefined && (l.trim() === '' || l.trim().startsWith('#'))) return;
    pending ??= { line: i + 1, parts: [] };
    pending.parts.push(l);
    if (!/\\$/.test(l)) {
      out.push({ line: pending.line, text: pending.parts.join('\n'), comment: commentOf(l) });
      pending = undefined;
    }
  });
  return out;
}

/** Whether a command (its last line, without the comment) ends with a lone `&`. */
function isBackground(text: string): boolean {
  const last = text.split('\n').pop()!;
  const hash = commentOf(last) === '' ? -1 : last.lastIndexOf('#');
  return /(^|[^&])&\s*$/.test(hash < 0 ? last : last.slice(0, hash));
}

async function freePorts(): Promise<{ coap: number; http: number }> {
  const udp = createSocket({ type: 'udp6' });
  const coap = await new Promise<number>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(0, '::', () => resolve(udp.address().port));
  });
  const tcp = createTcpServer();
  const http = await new Promise<number>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(0, '127.0.0.1', () => resolve((tcp.address() as { port: number }).port));
  });
  udp.close();
  await new Promise((r) => tcp.close(r));
  return { coap, http };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Every process below `root` (by parent id, from /proc), children first. */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(e), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [pid, pp] of parent) {
      if (pp === p) {
        walk(pid);
        out.push(pid);
      }
    }
  };
  walk(root);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One bash session fed a command at a time, each answered by a marker line with its status. */
class Session {
  private buf = '';
  private waiter: ((line: string) => void) | undefined;
  private seq = 0;

  constructor(readonly bash: ChildProcessWithoutNullStreams, private readonly logs: string) {
    bash.stdout.on('data', (d: Buffer) => {
      this.buf += d.toString();
      this.drain();
    });
    bash.stderr.on('data', (d: Buffer) => {
      this.buf += d.toString();
    });
  }

  private drain(): void {
    const m = /__RC__ (\d+) (\d+) (\d*)\n/.exec(this.buf);
    if (m && this.waiter) {
      this.buf = this.buf.slice(m.index + m[0].length);
      const w = this.waiter;
      this.waiter = undefined;
      w(m[0]);
    }
  }

  /** Runs a script fragment; resolves with its status and output files. */
  async run(script: string, mode: 'foreground' | 'background' | 'ctrl-c', ms = COMMAND_TIMEOUT_MS): Promise<{ rc: number; pid: number | undefined; out: string; err: string; n: number }> {
    const n = ++this.seq;
    const out = join(this.logs, `${n}.out`);
    const err = join(this.logs, `${n}.err`);
    const group = `{\n${script}\n} </dev/null >>'${out}' 2>>'${err}'`;
    let text: string;
    if (mode === 'ctrl-c') {
      text = `${group} &\n__p=$!; sleep ${CTRL_C_AFTER_S}; kill -INT -- -$__p 2>/dev/null; wait $__p\necho "__RC__ ${n} $? $__p"\n`;
    } else {
      text = `${group}\necho "__RC__ ${n} $? ${mode === 'background' ? '$!' : ''}"\n`;
    }
    const answer = new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no answer within ${ms} ms`));
      }, ms);
      this.waiter = (line) => {
        clearTimeout(t);
        resolve(line);
      };
    });
    this.bash.stdin.write(text);
    this.drain();
    let line: string;
    try {
      line = await answer;
    } catch (e) {
      throw Object.assign(e as Error, { out: read(out), err: read(err) });
    }
    const m = /__RC__ (\d+) (\d+) (\d*)/.exec(line)!;
    return { rc: Number(m[2]), pid: m[3] === '' ? undefined : Number(m[3]), out: read(out), err: read(err), n };
  }
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function tail(s: string, n = 40): string {
  const l = s.trimEnd().split('\n');
  return (l.length > n ? ['…', ...l.slice(-n)] : l).join('\n');
}

test('extracts the commands of the sh blocks, continuation lines and comments included', () => {
  const md = ['x', '```sh', 'a 1   # one', '', '# a comment line', "b '#no' \\", '  c  # exits 1', '```', '```text', 'not me', '```'].join('\n');
  expect(readmeCommands(md)).toEqual([
    { line: 3, text: 'a 1   # one', comment: 'one' },
    { line: 6, text: "b '#no' \\\n  c  # exits 1", comment: 'exits 1' },
  ]);
  expect(isBackground('npx lwm2m-fota serve &   # or --policy p.json')).toBe(true);
  expect(isBackground('npx lwm2m-fota serve &')).toBe(true);
  expect(isBackground('npm ci && npm start')).toBe(false);
});

describe('README.md', () => {
  let tmp: ReturnType<typeof tempDir>;
  let bash: ChildProcessWithoutNullStreams | undefined;

  afterAll(async () => {
    if (bash?.pid !== undefined) {
      // Background jobs (servers, simulated devices) first, politely: they de-register and close.
      const pids = descendants(bash.pid);
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
      const end = Date.now() + 5000;
      while (pids.some(alive) && Date.now() < end) await delay(100);
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
      bash.kill('SIGKILL');
    }
    tmp?.remove();
  });

  test('every sh block runs in order, as printed, against a real server and emulated devices', async () => {
    const probe = spawnSync('sh', ['-c', 'command -v coap-client-notls']);
    if (probe.status !== 0) throw new Error('coap-client-notls (libcoap) is missing, and the README uses it: apt-get install -y libcoap3-bin');
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build`);

    const commands = readmeCommands(readFileSync(README, 'utf8'));
    expect(commands.length).toBeGreaterThan(20);
    const ports = await freePorts();
    tmp = tempDir('lwm2m-fota-readme-');
    const bin = join(tmp.dir, 'bin');
    const logs = join(tmp.dir, 'logs');
    const work = join(tmp.dir, 'work');
    for (const d of [bin, logs, work]) mkdirSync(d);
    const node = process.execPath;
    writeFileSync(
      join(bin, 'npx'),
      [
        '#!/bin/sh',
        '# test/readme.test.ts: `npx lwm2m-fota` is the built CLI, with the test\'s ports as defaults.',
        '[ "$1" = lwm2m-fota ] || { echo "readme test: npx $1 is not mapped" >&2; exit 127; }',
        'shift',
        'case "$1" in',
        `  serve) exec '${node}' '${CLI}' "$@" --coap-port ${ports.coap} --http-port ${ports.http} ;;`,
        `  keys|manifest|simulate|help|--help|--version|-V) exec '${node}' '${CLI}' "$@" ;;`,
        `  *) exec '${node}' '${CLI}' "$@" --server http://127.0.0.1:${ports.http} ;;`,
        'esac',
        '',
      ].join('\n'),
    );
    chmodSync(join(bin, 'npx'), 0o755);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
    delete env.LWM2M_FOTA_TOKEN;
    bash = spawn('bash', ['--noprofile', '--norc'], { cwd: work, env, stdio: ['pipe', 'pipe', 'pipe'] });
    // Job control: each background job is its own process group, and keeps SIGINT (Ctrl-C).
    bash.stdin.write('set -m\n');
    const session = new Session(bash, logs);

    const servers: number[] = [];
    /** Output of the background jobs, shown with any failure. */
    const jobs: Array<{ where: string; n: number }> = [];
    const jobLogs = (): string =>
      jobs.map((j) => `--- background job, ${j.where}\n${tail(read(join(logs, `${j.n}.out`)), 15)}\n${tail(read(join(logs, `${j.n}.err`)), 15)}`).join('\n');
    const skipped: string[] = [];
    const started = Date.now();
    for (const c of commands) {
      const where = `README.md:${c.line}: ${c.text}`;
      const mapped = MAPPED.find((m) => m.command === c.text.replace(/\s+#.*$/, '').trim());
      if (mapped === undefined && /^npm\b/.test(c.text)) throw new Error(`${where}\n  an npm line the test does not know: add it to MAPPED with its reason`);
      if (mapped !== undefined && mapped.run === undefined) {
        skipped.push(`${c.line}: ${mapped.command} (${mapped.reason})`);
        continue;
      }
      const printed = mapped?.run ?? c.text;
      const script = printed.replace(/\b5683\b/g, String(ports.coap)).replace(/\b8080\b/g, String(ports.http));
      const background = isBackground(printed);
      const ctrlC = /until Ctrl-C/.test(c.comment);
      const exits = /\bexits (\d+)\b/.exec(c.comment);
      const isServe = background && /lwm2m-fota serve\b/.test(printed);

      if (isServe) {
        // One server at a time: the README stops the one before (a data directory and ports are taken).
        for (const pid of servers.splice(0)) await session.run(`kill -TERM ${pid} 2>/dev/null; wait ${pid}`, 'foreground', 20_000);
      }
      let r: Awaited<ReturnType<Session['run']>>;
      try {
        r = await session.run(script, ctrlC ? 'ctrl-c' : background ? 'background' : 'foreground');
      } catch (err) {
        const e = err as Error & { out?: string; err?: string };
        throw new Error(`${where}\n  ${e.message}\n--- stdout\n${tail(e.out ?? '')}\n--- stderr\n${tail(e.err ?? '')}\n${jobLogs()}`);
      }
      // Ctrl-C: our commands end cleanly (0); curl dies of the signal (130 in the shell).
      const expected = exits ? [Number(exits[1])] : ctrlC && /^curl\b/.test(printed) ? [0, 130] : [0];
      const output = `--- stdout\n${tail(r.out)}\n--- stderr\n${tail(r.err)}\n${jobLogs()}`;
      if (!expected.includes(r.rc)) throw new Error(`${where}\n  exited ${r.rc}, the README announces ${expected.join(' or ')}\n${output}`);
      if (!ctrlC && /^curl\b/.test(printed) && (/^\s*\{\s*"error"/.test(r.out) || /"success"\s*:\s*false/.test(r.out))) {
        throw new Error(`${where}\n  the API answered a failure\n${output}`);
      }
      if (background && r.pid !== undefined) {
        const pid = r.pid;
        jobs.push({ where, n: r.n });
        const logFile = join(logs, `${r.n}.out`);
        const ready = isServe
          ? async () => listening(ports.http)
          : /lwm2m-fota simulate\b/.test(printed)
            ? async () => / registered id=/.test(read(logFile))
            : async () => true;
        const end = Date.now() + 20_000;
        while (!(await ready())) {
          if (!alive(pid) || Date.now() > end) {
            throw new Error(`${where}\n  the background job ${alive(pid) ? 'is not ready after 20 s' : 'ended'}\n--- its output\n${tail(read(logFile))}\n${tail(read(join(logs, `${r.n}.err`)))}`);
          }
          await delay(100);
        }
        if (isServe) servers.push(pid);
      }
    }
    expect(skipped.map((s) => s.replace(/^\d+: /, ''))).toEqual(['npm test (npm test runs this test)']);
    expect(Date.now() - started).toBeLessThan(170_000);
  }, 180_000);
});
