import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isLwm2mFotaError } from '../../../../src/errors';
import {
  DEFAULT_OBJECTS_DIR,
  loadObjectModels,
  parseDdf,
  parseRange,
  type ModelProblem,
} from '../../../../src/lwm2m/core/model';
import { objectVersionsFromLinks, parseLinkFormat } from '../../../../src/lwm2m/core/content-formats';

const SMALL_OBJECT = (id: number, version = '1.0', extra = ''): string => `<?xml version="1.0"?>
<LWM2M>
  <Object ObjectType="MODefinition">
    <Name>Vendor thing</Name>
    <ObjectID>${id}</ObjectID>
    <ObjectVersion>${version}</ObjectVersion>
    <MultipleInstances>Multiple</MultipleInstances>
    <Mandatory>Optional</Mandatory>
    <Resources>
      <Item ID="0"><Name>Level</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Float</Type><RangeEnumeration>-40..85</RangeEnumeration><Units>Cel</Units><Description>How warm it is.</Description></Item>
      ${extra}
    </Resources>
  </Object>
</LWM2M>`;

function tempDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwm2m-objects-'));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

describe('shipped object definitions', () => {
  const { registry, problems } = loadObjectModels();

  it('load without a single problem', () => {
    expect(problems).toEqual([]);
    expect(fs.existsSync(DEFAULT_OBJECTS_DIR)).toBe(true);
  });

  it('hold objects 0, 1, 3, 4 and 5 in versions 1.0, 1.1 and 1.2, and 33629 in 1.0', () => {
    for (const id of [0, 1, 3, 4, 5]) expect(registry.versions(id)).toEqual(['1.0', '1.1', '1.2']);
    expect(registry.versions(33629)).toEqual(['1.0']);
    expect(registry.list().map((o) => `${o.id}@${o.version}`)).toContain('33629@1.0');
  });

  it('define /5 as REFERENCE.md tabulates it: 10–13 from object version 1.1, 14 from 1.2', () => {
    const ids = (v: string): number[] => registry.getObject(5, v)?.resources.map((r) => r.id) ?? [];
    expect(ids('1.0')).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9]);
    expect(ids('1.1')).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(ids('1.2')).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(registry.getResource(5, 5, '1.0')?.range).toEqual({ min: 0, max: 9 });
    expect(registry.getResource(5, 5, '1.1')?.range).toEqual({ min: 0, max: 11 });
    expect(registry.getResource(5, 13, '1.1')).toMatchObject({ type: 'unsigned', operations: 'RW', units: 's' });
    expect(registry.getResource(5, 14, '1.2')).toMatchObject({ name: 'Automatic Upgrade at Download', type: 'boolean', operations: 'RW' });
    expect(registry.getResource(5, 2, '1.0')).toMatchObject({ operations: 'E', type: 'none' });
    expect(registry.getResource(5, 8, '1.0')).toMatchObject({ multiple: true, type: 'integer', range: { min: 0, max: 5 } });
    expect(registry.getObject(5, '1.1')).toMatchObject({ lwm2mVersion: '1.1', multiple: false, mandatory: false });
  });

  it('define /33629 with component name, current version and linked instances', () => {
    const o = registry.getObject(33629);
    expect(o).toMatchObject({ name: 'Advanced Firmware Update', multiple: true });
    expect(registry.getResource(33629, 5)?.range).toEqual({ min: 0, max: 13 });
    expect(registry.getResource(33629, 14)).toMatchObject({ name: 'Component Name', type: 'string' });
    expect(registry.getResource(33629, 16)).toMatchObject({ type: 'objlnk', multiple: true });
  });

  it('give the Security object resources no operation, and the Device object its types', () => {
    expect(registry.getResource(0, 5)).toMatchObject({ operations: '', type: 'opaque' });
    expect(registry.getResource(3, 13)).toMatchObject({ type: 'time', operations: 'RW' });
    expect(registry.getResource(3, 11)).toMatchObject({ multiple: true, mandatory: true });
    expect(registry.getResource(1, 0, '1.0')?.range).toEqual({ min: 1, max: 65535 });
  });
});

describe('choosing an object version per device', () => {
  const { registry } = loadObjectModels();

  it('uses 1.0 when the registration gives no ver', () => {
    expect(registry.getObject(5)?.version).toBe('1.0');
    expect(registry.forDevice({}).getResource(5, 13)).toBeUndefined();
  });

  it('uses the version the device registered with', () => {
    const links = parseLinkFormat('</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</5>;ver=1.1,</5/0>');
    const versions = objectVersionsFromLinks(links);
    expect(versions).toEqual(new Map([[5, '1.1']]));
    const device = registry.forDevice(versions);
    expect(device.getObject(5)?.version).toBe('1.1');
    expect(device.getResource(5, 13)?.name).toBe('Maximum Defer Period');
    expect(device.getResource(5, 14)).toBeUndefined();
    expect(device.getObject(3)?.version).toBe('1.0');
  });

  it('falls back to the closest lower version it knows', () => {
    expect(registry.getObject(5, '1.3')?.version).toBe('1.2');
    expect(registry.getObject(4, '2.0')?.version).toBe('1.2');
    expect(registry.forDevice(new Map([[3, '1.1']])).getObject(3)?.version).toBe('1.1');
  });

  it('reads object versions relative to an alternate root path', () => {
    const links = parseLinkFormat('</lwm2m>;rt="oma.lwm2m",</lwm2m/5>;ver=1.2,</lwm2m/3/0>');
    expect(objectVersionsFromLinks(links, '/lwm2m')).toEqual(new Map([[5, '1.2']]));
  });
});

describe('loading a user folder', () => {
  it('reports a malformed XML file with its path, skips it and loads the rest', () => {
    const dir = tempDir({
      '40000.xml': SMALL_OBJECT(40000),
      'broken.xml': SMALL_OBJECT(40001).replace('</Resources>', ''),
      'bad-type.xml': SMALL_OBJECT(40002).replace('<Type>Float</Type>', '<Type>Decimal</Type>'),
      'readme.txt': 'not an object',
    });
    const seen: ModelProblem[] = [];
    const { registry, problems } = loadObjectModels({ directories: [dir], onProblem: (p) => seen.push(p) });
    expect(problems).toHaveLength(2);
    expect(seen).toEqual(problems);
    const broken = problems.find((p) => p.path === path.join(dir, 'broken.xml'));
    expect(broken?.severity).toBe('error');
    expect(broken?.message).toContain(path.join(dir, 'broken.xml'));
    expect(broken?.message).toMatch(/malformed XML/);
    expect(isLwm2mFotaError(broken?.cause, 'ERR_LWM2M_MODEL')).toBe(true);
    const badType = problems.find((p) => p.path === path.join(dir, 'bad-type.xml'));
    expect(badType?.message).toMatch(/unknown Type "Decimal"/);
    expect(registry.getObject(40000)?.resources[0]).toMatchObject({ name: 'Level', type: 'float', units: 'Cel', range: { min: -40, max: 85 } });
    expect(registry.getObject(40001)).toBeUndefined();
    expect(registry.getObject(5)?.name).toBe('Firmware Update');
  });

  it('lets a user definition replace a shipped one, with a warning', () => {
    const dir = tempDir({ 'my5.xml': SMALL_OBJECT(5) });
    const { registry, problems } = loadObjectModels({ directories: [dir] });
    expect(problems).toEqual([expect.objectContaining({ severity: 'warning', path: path.join(dir, 'my5.xml') })]);
    expect(registry.getObject(5, '1.0')?.name).toBe('Vendor thing');
    expect(registry.getObject(5, '1.1')?.name).toBe('Firmware Update');
  });

  it('reports a folder that cannot be read', () => {
    const missing = path.join(os.tmpdir(), 'lwm2m-no-such-folder-xyz');
    const { problems } = loadObjectModels({ includeDefaults: false, directories: [missing] });
    expect(problems).toEqual([expect.objectContaining({ severity: 'error', path: missing })]);
  });
});

describe('parseDdf', () => {
  const rejects = (xml: string, pattern: RegExp): void => {
    let caught: unknown;
    try {
      parseDdf(xml, 'x.xml');
    } catch (err) {
      caught = err;
    }
    expect(isLwm2mFotaError(caught, 'ERR_LWM2M_MODEL')).toBe(true);
    expect((caught as Error).message).toMatch(pattern);
    expect((caught as { context: { path?: string } }).context.path).toBe('x.xml');
  };

  it('rejects a document whose root is not LWM2M', () => rejects('<Objects/>', /root element must be <LWM2M>/));
  it('rejects an object without ObjectID', () => rejects(SMALL_OBJECT(1).replace(/<ObjectID>.*<\/ObjectID>/, ''), /ObjectID/));
  it('rejects a resource defined twice', () =>
    rejects(SMALL_OBJECT(40000, '1.0', SMALL_OBJECT(0).match(/<Item[\s\S]*<\/Item>/)?.[0] ?? ''), /resource 0 is defined twice/));
  it('rejects an object version that is not major.minor', () => rejects(SMALL_OBJECT(40000, 'v2'), /ObjectVersion "v2"/));
  it('rejects entity declarations', () =>
    rejects('<!DOCTYPE LWM2M [<!ENTITY a "aaaa">]><LWM2M></LWM2M>', /DOCTYPE and ENTITY declarations/));
  it('rejects a non-executable resource without type', () =>
    rejects(SMALL_OBJECT(40000).replace('<Type>Float</Type>', '<Type></Type>'), /Type is required/));

  it('reads several objects of one file, and defaults versions to 1.0', () => {
    const xml = `<LWM2M>${SMALL_OBJECT(40000).match(/<Object [\s\S]*<\/Object>/)?.[0]}${SMALL_OBJECT(40001, '2.1').match(/<Object [\s\S]*<\/Object>/)?.[0]}</LWM2M>`;
    const objects = parseDdf(xml);
    expect(objects.map((o) => [o.id, o.version, o.lwm2mVersion])).toEqual([
      [40000, '1.0', '1.0'],
      [40001, '2.1', '1.0'],
    ]);
  });

  it('parses numeric ranges and leaves other enumerations alone', () => {
    expect(parseRange('0..255')).toEqual({ min: 0, max: 255 });
    expect(parseRange('1-65534')).toEqual({ min: 1, max: 65534 });
    expect(parseRange('-40..85')).toEqual({ min: -40, max: 85 });
    expect(parseRange('0..255 bytes')).toEqual({ min: 0, max: 255 });
    expect(parseRange('16,32,48')).toBeUndefined();
    expect(parseRange('')).toBeUndefined();
  });
});
