import { hashString } from '../../../string-hash';

/**
 * An index of records by a string they carry (`keyOf`): the registration service's tables
 * of every device, by endpoint name and by registration id.
 *
 * A JS Map of 100,000 string keys costs several cache misses per operation: its bucket,
 * then each entry of the bucket's chain and each entry's key string, compared for a lookup
 * that misses (a new endpoint) as well as for one that hits. Measured in the registration
 * benchmark: a lookup of a new endpoint ~0.9 µs, an insert ~0.6 µs, a tenth of the main
 * thread's time per registration. Here the table keeps each key's hash next to the
 * record's position (open addressing, linear probing, at most 70% full): a lookup reads
 * one slot, and touches a record (and its key) only when the hashes are equal.
 *
 * Records are stored once, in an array; a removed record's place is reused. Nothing is
 * kept per entry but a slot of the table (8 bytes) and a place in the array (8 bytes).
 * Neither shrinks: a fleet that was once large keeps its table (~16 bytes per device it
 * had at most, ~3 MiB at 100,000) until the server restarts.
 */
export class RecordIndex<V> {
  /** Per slot: the key's hash, then 1 + the record's place in `records` (0: an empty slot). */
  private slots: Int32Array;
  private mask: number;
  private readonly records: (V | undefined)[] = [];
  /** Places in `records` left by removed records. */
  private readonly free: number[] = [];
  private count = 0;

  constructor(private readonly keyOf: (record: V) => string) {
    this.slots = new Int32Array(2 * 64);
    this.mask = 63;
  }

  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    const slot = this.find(key, hashString(key));
    return slot < 0 ? undefined : this.records[this.slots[2 * slot + 1]! - 1];
  }

  /** Adds `record` under its key, in place of the record that had that key, if any. */
  set(record: V): void {
    const key = this.keyOf(record);
    const hash = hashString(key);
    const found = this.find(key, hash);
    if (found >= 0) {
      this.records[this.slots[2 * found + 1]! - 1] = record;
      return;
    }
    if ((this.count + 1) * 10 > (this.mask + 1) * 7) this.grow();
    let place = this.free.pop();
    if (place === undefined) place = this.records.push(record) - 1;
    else this.records[place] = record;
    const s = this.slots;
    let i = hash & this.mask;
    while (s[2 * i + 1] !== 0) i = (i + 1) & this.mask;
    s[2 * i] = hash;
    s[2 * i + 1] = place + 1;
    this.count++;
  }

  /** Removes the record with `key`; false when there was none. */
  delete(key: string): boolean {
    let i = this.find(key, hashString(key));
    if (i < 0) return false;
    const s = this.slots;
    const mask = this.mask;
    const place = s[2 * i + 1]! - 1;
    this.records[place] = undefined;
    this.free.push(place);
    this.count--;
    // Backward-shift deletion: move up every later entry of the run whose home slot is not
    // between the hole and itself, so that no probe stops early at the hole.
    for (let j = (i + 1) & mask; s[2 * j + 1] !== 0; j = (j + 1) & mask) {
      const home = s[2 * j]! & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        s[2 * i] = s[2 * j]!;
        s[2 * i + 1] = s[2 * j + 1]!;
        i = j;
      }
    }
    s[2 * i] = 0;
    s[2 * i + 1] = 0;
    return true;
  }

  /** Every record, in no particular order. */
  *values(): IterableIterator<V> {
    for (const r of this.records) if (r !== undefined) yield r;
  }

  /** The slot holding `key`, or -1. */
  private find(key: string, hash: number): number {
    const s = this.slots;
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const place = s[2 * i + 1]!;
      if (place === 0) return -1;
      if (s[2 * i] === hash && this.keyOf(this.records[place - 1]!) === key) return i;
    }
  }

  /** Twice the slots; the entries move by their stored hashes (no key is read). */
  private grow(): void {
    const old = this.slots;
    const size = 2 * (this.mask + 1);
    const s = (this.slots = new Int32Array(2 * size));
    this.mask = size - 1;
    for (let k = 0; k < old.length; k += 2) {
      if (old[k + 1] === 0) continue;
      let i = old[k]! & this.mask;
      while (s[2 * i + 1] !== 0) i = (i + 1) & this.mask;
      s[2 * i] = old[k]!;
      s[2 * i + 1] = old[k + 1]!;
    }
  }
}
