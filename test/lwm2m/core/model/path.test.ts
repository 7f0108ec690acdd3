import { isLwm2mFotaError } from '../../../../src/errors';
import {
  comparePaths,
  formatPath,
  isPathPrefix,
  loadObjectModels,
  parentPath,
  parsePath,
  pathFromIds,
  validatePath,
  type LwM2mPath,
} from '../../../../src/lwm2m/core/model';

function pathError(fn: () => unknown): Error & { context: { path?: string } } {
  try {
    fn();
  } catch (err) {
    expect(isLwm2mFotaError(err, 'ERR_LWM2M_PATH')).toBe(true);
    return err as Error & { context: { path?: string } };
  }
  throw new Error('expected ERR_LWM2M_PATH');
}

describe('LwM2mPath', () => {
  it.each<[string, LwM2mPath]>([
    ['/', { level: 'root' }],
    ['/5', { level: 'object', objectId: 5 }],
    ['/5/0', { level: 'objectInstance', objectId: 5, instanceId: 0 }],
    ['/5/0/3', { level: 'resource', objectId: 5, instanceId: 0, resourceId: 3 }],
    ['/3/0/11/0', { level: 'resourceInstance', objectId: 3, instanceId: 0, resourceId: 11, resourceInstanceId: 0 }],
    ['/65535/65534/65535/65535', { level: 'resourceInstance', objectId: 65535, instanceId: 65534, resourceId: 65535, resourceInstanceId: 65535 }],
  ])('parses %s and formats it back', (text, path) => {
    expect(parsePath(text)).toEqual(path);
    expect(formatPath(path)).toBe(text);
  });

  it.each([
    ['5/0', /must start with "\/"/],
    ['', /must start with "\/"/],
    ['/5/', /Object Instance ID "" is not a decimal integer/],
    ['//', /Object ID "" is not a decimal integer/],
    ['/a', /Object ID "a" is not a decimal integer/],
    ['/-1', /not a decimal integer/],
    ['/05', /not a decimal integer/],
    ['/65536', /Object ID 65536 is out of range 0..65535/],
    ['/5/65535', /Object Instance ID 65535 is out of range 0..65534/],
    ['/1/2/3/4/5', /more than 4 levels/],
    ['/3/0/1 ', /not a decimal integer/],
  ])('rejects %j', (text, message) => {
    const err = pathError(() => parsePath(text));
    expect(err.message).toMatch(message);
    expect(err.context.path).toBe(text);
  });

  it('builds paths from ids and knows prefixes, parents and order', () => {
    expect(pathFromIds([3, 0, 6])).toEqual(parsePath('/3/0/6'));
    expect(isPathPrefix(parsePath('/3'), parsePath('/3/0/6/1'))).toBe(true);
    expect(isPathPrefix(parsePath('/'), parsePath('/3'))).toBe(true);
    expect(isPathPrefix(parsePath('/3/1'), parsePath('/3/0/6'))).toBe(false);
    expect(parentPath(parsePath('/3/0/6'))).toEqual(parsePath('/3/0'));
    expect(parentPath(parsePath('/'))).toBeUndefined();
    const sorted = ['/3/0/6', '/1', '/3', '/3/0/10', '/3/0'].map(parsePath).sort(comparePaths).map(formatPath);
    expect(sorted).toEqual(['/1', '/3', '/3/0', '/3/0/6', '/3/0/10']);
  });
});

describe('validatePath against the model', () => {
  const model = loadObjectModels().registry;

  it('accepts paths the model defines', () => {
    for (const p of ['/', '/5', '/5/0', '/5/0/3', '/3/0/11/0', '/1/7/1']) expect(() => validatePath(parsePath(p), model)).not.toThrow();
  });

  it.each([
    ['/42', /object 42 is not defined/],
    ['/5/1', /single-instance; its only instance is 0/],
    ['/5/0/13', /resource 13 is not defined in object 5 \(Firmware Update\) version 1.0/],
    ['/5/0/3/0', /resource 3 \(State\) is single-instance and has no resource instances/],
  ])('rejects %s with a clear message', (text, message) => {
    const err = pathError(() => validatePath(parsePath(text), model));
    expect(err.message).toMatch(message);
    expect(err.context.path).toBe(text);
  });

  it('validates against the version a device registered with', () => {
    expect(() => validatePath(parsePath('/5/0/13'), model.forDevice({ 5: '1.1' }))).not.toThrow();
    expect(() => validatePath(parsePath('/5/0/14'), model.forDevice({ 5: '1.1' }))).toThrow(/resource 14 is not defined/);
  });
});
