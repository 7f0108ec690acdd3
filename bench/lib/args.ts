/** Command-line options of the benchmarks: `--name value`. */

/** The value after `--name`, or `fallback`. */
export function stringArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/**
 * A positive number after `--name` (a whole one with `integer`; zero too with `zero`), or
 * `fallback`; throws otherwise.
 */
export function numberArg(name: string, fallback: number, integer = false, zero = false): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v < 0 || (v === 0 && !zero) || (integer && !Number.isInteger(v))) {
    throw new Error(`--${name} must be a ${zero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}`);
  }
  return v;
}
