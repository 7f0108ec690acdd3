import {
  explainReason,
  explainUpdateResult,
  failureReasonFor,
  FirmwareState,
  firmwareStateName,
  isTransient,
  isTransientReason,
  UpdateResult,
  type FailureReason,
} from '../../../src/fota/update/update-result';

describe('object 5 numbers (REFERENCE.md, LwM2M 1.1 object 5)', () => {
  it('State: 0 Idle, 1 Downloading, 2 Downloaded, 3 Updating', () => {
    expect(FirmwareState).toEqual({ Idle: 0, Downloading: 1, Downloaded: 2, Updating: 3 });
    expect([0, 1, 2, 3, 4].map(firmwareStateName)).toEqual(['Idle', 'Downloading', 'Downloaded', 'Updating', 'State 4 (undefined)']);
  });

  it('Update Result: 0–11', () => {
    expect(Object.values(UpdateResult)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });
});

describe('Update Results for operators', () => {
  const table: [number, FailureReason | undefined, boolean, RegExp][] = [
    [0, undefined, false, /initial/],
    [1, undefined, false, /successfully/],
    [2, 'notEnoughFlash', false, /enough flash/],
    [3, 'outOfMemory', false, /RAM/],
    [4, 'connectionLost', true, /lost its connection/],
    [5, 'integrityCheckFailed', false, /integrity check/],
    [6, 'unsupportedPackage', false, /does not accept this package/],
    [7, 'invalidUri', false, /Package URI/],
    [8, 'updateFailed', false, /Installing/],
    [9, 'unsupportedProtocol', false, /protocol/],
    [10, 'cancelledByDevice', false, /cancelled/],
    [11, 'deferred', false, /deferred/],
  ];
  test.each(table)('Update Result %i → %s (transient: %s)', (code, reason, transient, sentence) => {
    expect(failureReasonFor(code)).toBe(reason);
    expect(isTransient(code)).toBe(transient);
    expect(explainUpdateResult(code)).toMatch(sentence);
    expect(explainUpdateResult(code)).toContain(`(Update Result ${code})`);
    if (reason !== undefined) {
      expect(explainReason(reason)).toBe(explainUpdateResult(code));
      expect(isTransientReason(reason)).toBe(transient);
    }
  });

  it.each([12, 13, 255, -1, 2.5])('treats Update Result %p, which object 5 does not define, as a failure', (code) => {
    expect(failureReasonFor(code)).toBe('unknownResult');
    expect(isTransient(code)).toBe(false);
    expect(explainUpdateResult(code)).toMatch(/does not define/);
  });

  const serverReasons: [FailureReason, boolean][] = [
    ['timeout', true],
    ['lostContact', true],
    ['deviceReset', true],
    ['versionMismatch', false],
    ['unconfirmed', false],
    ['deliveryRejected', false],
    ['updateRejected', false],
    ['unsupportedDelivery', false],
    ['unknownResult', false],
    ['retriesExhausted', false],
    ['cancelled', false],
  ];
  test.each(serverReasons)('server-side reason %s has an explanation (transient: %s)', (reason, transient) => {
    expect(explainReason(reason)).toMatch(/^[A-Z].+\.$/);
    expect(isTransientReason(reason)).toBe(transient);
  });
});
