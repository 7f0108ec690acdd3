import type { EventJson, TypedEvent } from '../../events';

/** One event as the REST event stream sends it (src/events.ts's EventJson). Times are ISO 8601 strings. */
export type EventView = EventJson;

/** The view of one stored event. */
export function eventView(e: TypedEvent): EventView {
  // Built per event of the union (TS does not correlate `type` and `data` through a spread).
  return {
    id: e.id,
    type: e.type,
    ...(e.endpoint === undefined ? {} : { endpoint: e.endpoint }),
    time: new Date(e.time).toISOString(),
    data: e.data,
  } as EventView;
}
