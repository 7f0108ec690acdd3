import type { StoredEvent } from '../../store/types';

/** An event of the log as `/api/events` streams it. Times are ISO 8601 strings. */
export interface EventView {
  id: number;
  type: string;
  endpoint?: string;
  time: string;
  data: Record<string, unknown>;
}

/** The view of one stored event. */
export function eventView(e: StoredEvent): EventView {
  return {
    id: e.id,
    type: e.type,
    ...(e.endpoint === undefined ? {} : { endpoint: e.endpoint }),
    time: new Date(e.time).toISOString(),
    data: e.data,
  };
}
