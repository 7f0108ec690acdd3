/**
 * The CoAP layer: one endpoint that is both server and client on one UDP socket and port,
 * with deduplication, block-wise transfer (RFC 7959), Observe (RFC 7641) and per-endpoint
 * transmission parameters. The only folder that imports node-coap / coap-packet.
 */
export * from './types';
export { createCoapEndpoint, DEFAULT_TRANSMISSION } from './endpoint';
export { UdpChannel, canonicalAddress, type UdpChannelOptions } from './channel';
export { isFresh } from './observe';
export { peerKey } from './client';
