#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { commands } from './commands';
import { ExitCode } from './run';

/** The package's version: package.json two levels up, from src/cli and from dist/cli alike. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Builds the `lwm2m-fota` program; exported for tests. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('lwm2m-fota')
    .description('LwM2M device-management server for signed (SUIT) firmware updates')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError(false)
    .configureOutput({
      // Commander's own usage errors become one line on stderr, like ours.
      outputError: (str, write) => write(`lwm2m-fota: ERR_CLI_USAGE: ${str.replace(/^error:\s*/i, '').trim()}\n`),
    })
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

/**
 * A reader that goes away (`lwm2m-fota serve | head`, a log collector restarting) must not
 * take the server down with an unhandled EPIPE: what is written after that is lost, and the
 * command goes on. Any other stream error still ends the process.
 */
function surviveClosedReader(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

export async function main(argv: string[]): Promise<void> {
  surviveClosedReader(process.stdout);
  surviveClosedReader(process.stderr);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; everything else is a usage error, already printed.
      process.exitCode = err.exitCode === 0 ? 0 : ExitCode.Usage;
      return;
    }
    throw err;
  }
}

if (require.main === module) {
  void main(process.argv);
}
