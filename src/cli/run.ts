import { Lwm2mFotaError, isLwm2mFotaError } from '../index';

/** Exit codes: 1 = operation failed, 2 = usage error, 3 = cannot reach the server. */
export const ExitCode = { Failure: 1, Usage: 2, Unreachable: 3 } as const;

/** One stderr line for an error: `lwm2m-fota: ERR_CODE: reason`. */
export function formatError(err: unknown): string {
  if (isLwm2mFotaError(err)) return `lwm2m-fota: ${err.code}: ${oneLine(err.message)}`;
  if (err instanceof Error) return `lwm2m-fota: ERR_INTERNAL: ${oneLine(err.message)}`;
  return `lwm2m-fota: ERR_INTERNAL: ${oneLine(String(err))}`;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

export function exitCodeFor(err: unknown): number {
  if (!isLwm2mFotaError(err)) return ExitCode.Failure;
  if (err.code === 'ERR_CLI_USAGE') return ExitCode.Usage;
  if (err.code === 'ERR_API_UNREACHABLE') return ExitCode.Unreachable;
  return ExitCode.Failure;
}

/**
 * Wraps a commander action: any error becomes one stderr line and a non-zero exit.
 * Commands never call process.exit themselves for errors.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      process.stderr.write(formatError(err) + '\n');
      process.exitCode = exitCodeFor(err);
    }
  };
}

export function usageError(message: string): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_CLI_USAGE', message);
}

/** Prints a value as stable JSON (two-space indent) followed by a newline. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Parses a decimal integer option, or throws ERR_CLI_USAGE naming the option. */
export function parseIntOption(name: string, value: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(value.trim())) throw usageError(`${name} must be an integer, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw usageError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}
