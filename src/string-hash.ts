/**
 * A 32-bit hash of a string for the server's own hash tables (deduplication, the tables of
 * every device): FNV-1a over the UTF-16 code units, then a multiply-xorshift so that the
 * low bits, which pick a table slot, depend on every character.
 */
export function hashString(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}
