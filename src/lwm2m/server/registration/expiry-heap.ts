/**
 * A min-heap of records by a time (when a registration expires), the times kept in a
 * typed array apart from the records: sifting compares numbers without touching a record.
 *
 * Registrations mostly arrive in expiry order, so a push usually stops at its parent; with
 * the times in a dense array consecutive pushes read consecutive parents (the same cache
 * line), where reading each parent record's fields was a cache miss per registration.
 */
export class ExpiryHeap<V> {
  private items: V[] = [];
  private times = new Float64Array(1024);

  get size(): number {
    return this.items.length;
  }

  /** The earliest time, or Infinity when empty. */
  peekTime(): number {
    return this.items.length === 0 ? Infinity : this.times[0]!;
  }

  push(item: V, time: number): void {
    const items = this.items;
    let i = items.length;
    if (i === this.times.length) {
      const grown = new Float64Array(2 * i);
      grown.set(this.times);
      this.times = grown;
    }
    const t = this.times;
    items.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p]! <= time) break;
      items[i] = items[p]!;
      t[i] = t[p]!;
      i = p;
    }
    items[i] = item;
    t[i] = time;
  }

  /** Removes and returns the item with the earliest time (undefined when empty). */
  pop(): V | undefined {
    const items = this.items;
    const t = this.times;
    const top = items[0];
    const last = items.pop();
    const n = items.length;
    if (n === 0) return top;
    const lastTime = t[n]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && t[l + 1]! < t[l]! ? l + 1 : l;
      if (t[c]! >= lastTime) break;
      items[i] = items[c]!;
      t[i] = t[c]!;
      i = c;
    }
    items[i] = last!;
    t[i] = lastTime;
    return top;
  }

  /** Replaces the content with `items` (a sorted array is a valid heap). */
  reset(items: Iterable<V>, timeOf: (item: V) => number): void {
    const pairs = Array.from(items, (item) => ({ item, time: timeOf(item) })).sort((a, b) => a.time - b.time);
    this.items = pairs.map((p) => p.item);
    this.times = new Float64Array(Math.max(1024, pairs.length * 2));
    pairs.forEach((p, i) => (this.times[i] = p.time));
  }
}
