/**
 * The firmware repository's records: the stable JSON of `firmware add/list/show --json` and
 * of `GET /api/firmware`.
 */

/**
 * Where a device gets a component's image from, as the signed manifest says:
 * - `repository`: this server, at `/fw/<image digest>` (the manifest's URI is the relative
 *   reference `/fw/<digest>`, or an absolute URI with that path);
 * - `integrated`: inside the envelope (a `#…` URI naming an integrated payload);
 * - `external`: another server (an absolute URI outside the `/fw/<digest>` namespace);
 * - `none`: the manifest fetches nothing for this component.
 */
export type FirmwareImageLocation = 'repository' | 'integrated' | 'external' | 'none';

/** One component's image. */
export interface FirmwareImage {
  /** Component index in the manifest. */
  component: number;
  /** Component identifier, each bstr as hex. */
  componentId: string[];
  /** SHA-256 of the image (hex), null when the manifest gives no image digest. */
  digest: string | null;
  size: number | null;
  /** The URI exactly as signed in the manifest (devices resolve a relative one against the envelope's URI). */
  uri: string | null;
  location: FirmwareImageLocation;
  /** The image bytes are in the repository and served at `/fw/<digest>`. */
  stored: boolean;
}

/** A firmware in the repository: one verified SUIT envelope and what it says. */
export interface FirmwareRecord {
  /** SHA-256 (hex) of the envelope. */
  id: string;
  /** Where devices fetch the envelope: `/fw/<id>` on this server's CoAP port. */
  uri: string;
  /** Envelope size in bytes. */
  size: number;
  /** The firmware version from the manifest's text (suit-text-component-version), null when absent. */
  version: string | null;
  /** Number when it fits in a double exactly, else decimal text. */
  sequenceNumber: number | string;
  /** Vendor and class IDs (UUID) of the first component that sets them. */
  vendorId: string | null;
  classId: string | null;
  /** suit-text-manifest-description, when present. */
  description: string | null;
  images: FirmwareImage[];
  /**
   * The payload alone, for devices that do not speak SUIT (raw-image delivery): the first
   * component's image when it is stored. Null otherwise.
   */
  payload: { digest: string; size: number; uri: string } | null;
  /** Ids of the trusted keys whose signature verified when the firmware was added. */
  signers: string[];
  /** ISO 8601. */
  addedAt: string;
}
