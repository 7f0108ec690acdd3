/**
 * The one CBOR core (RFC 8949) that SUIT and the LwM2M content formats share: a decoder that
 * checks every limit before it allocates and builds each layer's own representation, and a
 * writer of shortest-form heads. A leaf like `src/errors.ts`: it imports nothing from `src/`,
 * so both `suit` and `lwm2m/core` may import it without leaving their layer.
 */
export { decodeWith, compareBytes, halfToNumber, floatValue, type CborBuilder, type CborDialect, type CborErrorFactory } from './decode';
export { CborWriter } from './encode';
