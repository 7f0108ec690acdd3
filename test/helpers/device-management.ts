import type { Lwm2mFotaServer } from '../../src/server';
import { isEvent, type EventName, type TypedEvent } from '../../src/events';

export const FAST = { ackTimeoutMs: 200, ackRandomFactor: 1.0, maxRetransmit: 1 };

/** The next event of `type` (matching `where`) the server publishes, or a rejection after `ms`. */
export function nextEvent<K extends EventName>(server: Lwm2mFotaServer, type: K, where: (e: TypedEvent<K>) => boolean = () => true, ms = 5000): Promise<TypedEvent<K>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      reject(new Error(`no ${type} event within ${ms} ms`));
    }, ms);
    const off = server.events.subscribe((e) => {
      if (isEvent(e, type) && where(e)) {
        clearTimeout(t);
        off();
        resolve(e);
      }
    });
  });
}

/** Collects every event of the given types from now on. */
export function collect<K extends EventName>(server: Lwm2mFotaServer, types: readonly K[]): { events: TypedEvent<K>[]; stop: () => void } {
  const events: TypedEvent<K>[] = [];
  const stop = server.events.subscribe((e) => {
    if (isEvent(e, ...types)) events.push(e);
  });
  return { events, stop };
}

export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}
