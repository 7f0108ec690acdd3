/** What the composite commands share: the REST path of `/composite` with its query. */
import { checkPath } from './device-common';

/** `/api/devices/<ep>/composite[/observe]?paths=…&format=…`; each path checked first. */
export function compositeUrl(endpoint: string, suffix: '' | '/observe', paths: readonly string[] = [], format?: string): string {
  const q = new URLSearchParams();
  if (paths.length > 0) q.set('paths', paths.map((p) => checkPath(p)).join(','));
  if (format !== undefined) q.set('format', format);
  const query = q.toString();
  return `/api/devices/${encodeURIComponent(endpoint)}/composite${suffix}${query === '' ? '' : `?${query}`}`;
}
