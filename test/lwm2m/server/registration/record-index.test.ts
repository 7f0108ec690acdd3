import { RecordIndex } from '../../../../src/lwm2m/server/registration/record-index';
import { hashString } from '../../../../src/string-hash';

interface Rec {
  readonly key: string;
  readonly n: number;
}

/** A deterministic pseudo-random sequence (xorshift32). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function expectSame(index: RecordIndex<Rec>, model: Map<string, Rec>, probes: string[]): void {
  expect(index.size).toBe(model.size);
  for (const k of probes) expect(index.get(k)).toBe(model.get(k));
  expect([...index.values()].sort((a, b) => a.n - b.n)).toEqual([...model.values()].sort((a, b) => a.n - b.n));
}

describe('RecordIndex', () => {
  it('finds, replaces and removes records by their key', () => {
    const index = new RecordIndex<Rec>((r) => r.key);
    const a = { key: 'dev-a', n: 1 };
    index.set(a);
    expect(index.get('dev-a')).toBe(a);
    expect(index.get('dev-b')).toBeUndefined();
    const a2 = { key: 'dev-a', n: 2 };
    index.set(a2);
    expect(index.size).toBe(1);
    expect(index.get('dev-a')).toBe(a2);
    expect(index.delete('dev-a')).toBe(true);
    expect(index.delete('dev-a')).toBe(false);
    expect(index.get('dev-a')).toBeUndefined();
    expect(index.size).toBe(0);
    expect([...index.values()]).toEqual([]);
  });

  it('tells apart keys with the same hash', () => {
    // Keys of one hash are rare; the table must not rely on their absence. Find two.
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; pair === undefined; i++) {
      const k = `k${i}`;
      const h = hashString(k);
      const other = seen.get(h);
      if (other !== undefined) pair = [other, k];
      else seen.set(h, k);
    }
    const index = new RecordIndex<Rec>((r) => r.key);
    index.set({ key: pair[0], n: 0 });
    expect(index.get(pair[1])).toBeUndefined();
    index.set({ key: pair[1], n: 1 });
    expect(index.get(pair[0])?.n).toBe(0);
    expect(index.get(pair[1])?.n).toBe(1);
    expect(index.delete(pair[0])).toBe(true);
    expect(index.get(pair[1])?.n).toBe(1);
  });

  it('agrees with a Map through 200,000 random sets and deletes over a few thousand keys (growth, collisions, reuse)', () => {
    const next = random(0x5eed);
    const index = new RecordIndex<Rec>((r) => r.key);
    const model = new Map<string, Rec>();
    const keys = Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? `urn:imei:${35_000_000_000 + i * 7919}` : `dev-${i}`));
    for (let step = 0; step < 200_000; step++) {
      const key = keys[Math.floor(next() * keys.length)]!;
      // Phases that fill the table and then empty it, so runs form and break up.
      const deleting = Math.floor(step / 20_000) % 2 === 1 ? next() < 0.7 : next() < 0.3;
      if (deleting) {
        expect(index.delete(key)).toBe(model.delete(key));
      } else {
        const rec = { key, n: step };
        index.set(rec);
        model.set(key, rec);
      }
      if (step % 20_000 === 19_999) expectSame(index, model, keys);
    }
    expectSame(index, model, [...keys, 'absent', '']);
  });

  it('spreads similar keys over the low bits of the hash', () => {
    const buckets = new Set<number>();
    for (let i = 0; i < 1000; i++) buckets.add(hashString(`bench-${i}`) & 1023);
    // 1000 keys thrown at random into 1024 buckets fill ~632 of them.
    expect(buckets.size).toBeGreaterThan(580);
  });
});
