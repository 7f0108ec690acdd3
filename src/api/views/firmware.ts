/**
 * A firmware as `GET /api/firmware[/:id]` and `firmware add|list|show --json` show it. The
 * repository's record is already plain JSON (hex ids, ISO times), so the view is the record
 * itself; the alias names the REST schema here, beside the other views, so that a change of
 * the record is seen as a change of the API.
 */
import type { FirmwareImage, FirmwareImageLocation, FirmwareRecord } from '../../fota/firmware';

/** One firmware of the repository (stable: scripts rely on these names). */
export type FirmwareView = FirmwareRecord;
/** One component's image of a firmware. */
export type FirmwareImageView = FirmwareImage;
export type { FirmwareImageLocation };

/** `GET /api/firmware`: the repository, oldest first. */
export interface FirmwareListView {
  firmware: FirmwareView[];
}

/** `DELETE /api/firmware/:id`. */
export interface FirmwareRemovedView {
  removed: FirmwareView;
}
