/** Object and LwM2M versions are "major.minor" (TS Core §5.1.2: `ver` attribute). */

export interface Version {
  readonly major: number;
  readonly minor: number;
}

const VERSION = /^(\d{1,4})\.(\d{1,4})$/;

/** Parses "1.1"; undefined when the text is not major.minor. */
export function parseVersion(text: string): Version | undefined {
  const m = VERSION.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareVersions(a: Version, b: Version): number {
  return a.major !== b.major ? a.major - b.major : a.minor - b.minor;
}

/** "1.1" stays "1.1"; "1" and "01.10" become "1.0" and "1.10"; invalid text → undefined. */
export function normalizeVersion(text: string): string | undefined {
  const trimmed = text.trim();
  const v = /^\d{1,4}$/.test(trimmed) ? { major: Number(trimmed), minor: 0 } : parseVersion(trimmed);
  return v === undefined ? undefined : `${v.major}.${v.minor}`;
}
