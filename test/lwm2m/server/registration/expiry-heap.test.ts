import { ExpiryHeap } from '../../../../src/lwm2m/server/registration/expiry-heap';

describe('ExpiryHeap', () => {
  it('gives items back earliest first through pushes and pops mixed at random, past its first capacity', () => {
    let x = 0x2545f491;
    const next = (): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
    const heap = new ExpiryHeap<{ id: number }>();
    const model: { id: number; time: number }[] = [];
    let id = 0;
    for (let step = 0; step < 20_000; step++) {
      if (next() < 0.6 || model.length === 0) {
        // Mostly increasing times, as registrations arrive, with some earlier ones.
        const time = step * 10 + Math.floor(next() * (next() < 0.8 ? 20 : 5000)) - 2000;
        const item = { id: id++ };
        heap.push(item, time);
        model.push({ id: item.id, time });
      } else {
        model.sort((a, b) => a.time - b.time || a.id - b.id);
        expect(heap.peekTime()).toBe(model[0]!.time);
        const got = heap.pop()!;
        // Equal times may come out in any order: take the model's entry with the item's id and time.
        const k = model.findIndex((m) => m.id === got.id);
        expect(model[k]!.time).toBe(model[0]!.time);
        model.splice(k, 1);
      }
      expect(heap.size).toBe(model.length);
    }
    model.sort((a, b) => a.time - b.time);
    const rest: number[] = [];
    while (heap.size > 0) {
      const t = heap.peekTime();
      heap.pop();
      rest.push(t);
    }
    expect(rest).toEqual(model.map((m) => m.time));
    expect(heap.pop()).toBeUndefined();
    expect(heap.peekTime()).toBe(Infinity);
  });

  it('is rebuilt from a set of items', () => {
    const heap = new ExpiryHeap<number>();
    heap.push(99, 1);
    heap.reset([5, 3, 9, 1, 7], (n) => n * 100);
    expect(heap.size).toBe(5);
    const out: number[] = [];
    for (let i = 0; i < 3; i++) out.push(heap.pop()!);
    heap.push(2, 200);
    while (heap.size > 0) out.push(heap.pop()!);
    expect(out).toEqual([1, 3, 5, 2, 7, 9]);
  });
});
