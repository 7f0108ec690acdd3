/**
 * One signed firmware update, end to end, with the public API only: a key pair, a SUIT
 * manifest signed with it, a server that trusts it, an emulated device that trusts it
 * too, and an update by pull. Run it with `npm run example -- update-one-device`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevice, createManifest, createServer, generateKeyPair, loadPublicKey } from '../src/index';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lwm2m-fota-example-'));
  const keys = generateKeyPair('esp256');
  const trustFile = join(dir, 'oem.pub.pem');
  writeFileSync(trustFile, keys.publicPem);

  // The server verifies every envelope against its trust anchors before accepting it.
  const server = await createServer({ dataDir: join(dir, 'data'), coapPort: 0, coapHost: '::1', httpPort: false, trust: [trustFile] });
  const image = Buffer.alloc(16 * 1024, 0x5a);
  const manifest = createManifest({
    image,
    sequenceNumber: 2,
    vendorDomain: 'example.com',
    className: 'sensor-v1',
    relativeUri: true, // the image is served next to the envelope: /fw/<image digest>
    version: '2.0.0',
    signers: [keys.privateKey],
  });
  const firmware = await server.firmware.add(manifest.envelope, image);
  console.log(`firmware ${firmware.id.slice(0, 16)}… version ${firmware.version} added`);

  const device = await createDevice({
    server: `coap://[::1]:${server.coap.address().port}`,
    endpoint: 'example-sensor',
    trustedKeys: [{ key: loadPublicKey(keys.publicPem) }],
    vendorDomain: 'example.com',
    className: 'sensor-v1',
    firmwareVersion: '1.0.0',
    sequenceNumber: 1,
    rebootDelayMs: 100,
  });
  await device.start();
  console.log(`device registered, running ${device.firmwareVersion}`);

  await server.updates.start('example-sensor', { firmwareId: firmware.id, method: 'pull' });
  const deadline = Date.now() + 60_000;
  let state = 'queued';
  while (Date.now() < deadline) {
    const job = await server.updates.current('example-sensor');
    state = job?.state.value ?? 'none';
    if (state === 'succeeded' || state === 'failed' || state === 'cancelled') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`update ${state}; the device now runs ${device.firmwareVersion}`);

  await device.stop();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  if (state !== 'succeeded' || device.firmwareVersion !== '2.0.0') process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
