import type { EventLog, NewEvent, StoredEvent } from './store/types';

export type EventListener = (event: StoredEvent) => void;

/**
 * The server's event stream: every event is appended to the durable event log first and
 * only then delivered to live subscribers (the REST event stream, the CLI, tests), so a
 * subscriber never sees an event that a crash could take back.
 */
export class EventBus {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly log: EventLog) {}

  /** Appends and, once committed, notifies subscribers. Resolves with the stored event. */
  publish(event: NewEvent): Promise<StoredEvent> {
    return this.log.append(event).then((stored) => {
      this.deliver(stored);
      return stored;
    });
  }

  /**
   * Notifies subscribers of an event that is already durable in the log — one a store
   * committed together with other data (RegistrationStore.putWithEvent).
   */
  deliver(stored: StoredEvent): void {
    for (const l of this.listeners) {
      try {
        l(stored);
      } catch {
        // A subscriber's failure is its own; it must not stop the others or the publisher.
      }
    }
  }

  /** Live events from now on; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  since(afterId: number, limit?: number): Promise<StoredEvent[]> {
    return this.log.since(afterId, limit);
  }

  lastId(): Promise<number> {
    return this.log.lastId();
  }
}
