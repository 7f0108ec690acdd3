import { chooseDelivery, type DeliveryChoice, type DeliveryOptions, type DeviceDeliverySupport } from '../../../src/fota/update/delivery';

const uris = { coap: 'coap://[2001:db8::1]/fw/aa', coaps: 'coaps://[2001:db8::1]/fw/aa' };

describe('choosing the delivery from /5/0/9 and /5/0/8', () => {
  const rows: [string, DeviceDeliverySupport, DeliveryOptions, Partial<DeliveryChoice> & { ok: boolean }][] = [
    ['both, CoAP and CoAPS → pull over CoAPS', { deliveryMethod: 2, protocols: [0, 1] }, { packageUris: uris }, { ok: true, method: 'pull', scheme: 'coaps', uri: uris.coaps }],
    ['both, CoAP only → pull over CoAP', { deliveryMethod: 2, protocols: [0] }, { packageUris: uris }, { ok: true, method: 'pull', scheme: 'coap', uri: uris.coap }],
    ['nothing known → pull over CoAP (absent /5/0/8 means CoAP)', {}, { packageUris: uris }, { ok: true, method: 'pull', scheme: 'coap' }],
    ['junk in /5/0/8 counts as absent', { protocols: [99, -1] }, { packageUris: uris }, { ok: true, method: 'pull', scheme: 'coap' }],
    ['push only → push', { deliveryMethod: 1, protocols: [0, 1] }, { packageUris: uris }, { ok: true, method: 'push' }],
    ['both, HTTP only → push (never a URI the device does not list)', { deliveryMethod: 2, protocols: [2] }, { packageUris: uris }, { ok: true, method: 'push' }],
    ['pull only, HTTP only → impossible', { deliveryMethod: 0, protocols: [2] }, { packageUris: uris }, { ok: false }],
    ['pull only, the server offers no URI → impossible', { deliveryMethod: 0 }, {}, { ok: false }],
    ['both, no URI → push', { deliveryMethod: 2 }, {}, { ok: true, method: 'push' }],
    ['override push on a device that does both', { deliveryMethod: 2 }, { override: 'push', packageUris: uris }, { ok: true, method: 'push' }],
    ['override push on a pull-only device → impossible', { deliveryMethod: 0 }, { override: 'push', packageUris: uris }, { ok: false }],
    ['override pull on a push-only device → impossible', { deliveryMethod: 1 }, { override: 'pull', packageUris: uris }, { ok: false }],
    ['override pull without a matching scheme → impossible, not push', { deliveryMethod: 2, protocols: [3] }, { override: 'pull', packageUris: uris }, { ok: false }],
    ['override pull → pull', { deliveryMethod: 2, protocols: [0] }, { override: 'pull', packageUris: uris }, { ok: true, method: 'pull', scheme: 'coap' }],
  ];
  test.each(rows)('%s', (_name, device, options, expected) => {
    const choice = chooseDelivery(device, options);
    expect(choice).toMatchObject(expected);
    if (!choice.ok) expect(choice.explanation).toMatch(/\.$/);
  });
});
