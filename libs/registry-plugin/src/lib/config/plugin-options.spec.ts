import fc from 'fast-check';
import { AurenError } from '../errors/errors';
import { normalizeOptions, SEVERITIES, type AurenConfig } from './options';

/**
 * The plugin options in nx.json are outside input: a string "false" must never read as true,
 * an empty severity list must never mean "block nothing", and an option the plugin does not know
 * (a typo) must never be dropped silently. Every refusal names the option's path.
 */

const refusal = (options: unknown, env: NodeJS.ProcessEnv = {}): AurenError => {
  try {
    normalizeOptions(options as never, env);
  } catch (error) {
    return error as AurenError;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
};

describe('nx.json plugin options are checked like executor options', () => {
  it.each<[unknown, string]>([
    [{ scan: { ignoreUnfixed: 'false' } }, 'nx.json plugin option scan.ignoreUnfixed must be a boolean, got the string "false"'],
    [{ scan: { ignoreUnfixed: 1 } }, 'nx.json plugin option scan.ignoreUnfixed must be a boolean, got the number 1'],
    [{ scan: { allowUnscanned: 'true' } }, 'nx.json plugin option scan.allowUnscanned must be one of never, loopback, always, got the string "true"'],
    [{ scan: { allowUnscanned: '' } }, 'nx.json plugin option scan.allowUnscanned must be one of never, loopback, always, got the string ""'],
    [{ scan: { allowUnscanned: null } }, 'nx.json plugin option scan.allowUnscanned must be one of never, loopback, always, got null'],
    [{ scan: { severity: [] } }, 'nx.json plugin option scan.severity must list at least one value, got an empty list'],
    [{ scan: { severity: 'CRITICAL' } }, 'nx.json plugin option scan.severity must be a list, got the string "CRITICAL"'],
    [{ scan: { severity: ['HIGH', 'SEVERE'] } }, 'nx.json plugin option scan.severity[1] must be one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL, got the string "SEVERE"'],
    [{ scan: { ignore: [{ id: 'CVE-2024-1', expire: '2030-01-01' }] } }, 'unknown option scan.ignore[0].expire in the nx.json plugin options'],
    [{ scan: { ignore: [{ id: '' }] } }, 'nx.json plugin option scan.ignore[0].id must not be empty'],
    [{ scan: { ignore: [{ id: 'CVE-2024-1', expires: 'tomorrow' }] } }, 'nx.json plugin option scan.ignore[0].expires must be a date written YYYY-MM-DD, got the string "tomorrow"'],
    [{ scan: { ignore: [{ id: 'CVE-2024-1', expires: '2030-02-30' }] } }, 'nx.json plugin option scan.ignore[0].expires must be a date written YYYY-MM-DD, got the string "2030-02-30"'],
    [{ scan: { secretAllowPaths: '/etc' } }, 'nx.json plugin option scan.secretAllowPaths must be a list, got the string "/etc"'],
    [{ scann: {} }, 'unknown option scann in the nx.json plugin options'],
    [{ signing: { keyless: 'false' } }, 'nx.json plugin option signing.keyless must be a boolean, got the string "false"'],
    [{ signing: { key: '' } }, 'nx.json plugin option signing.key must not be empty'],
    [{ tags: { aliases: 'yes' } }, 'nx.json plugin option tags.aliases must be a boolean, got the string "yes"'],
    [{ tags: { pushPullRequests: 'false' } }, 'nx.json plugin option tags.pushPullRequests must be a boolean, got the string "false"'],
    [{ tags: { mainBranches: [] } }, 'nx.json plugin option tags.mainBranches must list at least one value, got an empty list'],
    [{ tags: { initialVersion: 'one' } }, 'nx.json plugin option tags.initialVersion must be a semantic version such as 0.1.0, got the string "one"'],
    [{ retention: { keepReleases: 2.5 } }, 'nx.json plugin option retention.keepReleases must be an integer, got the number 2.5'],
    [{ retention: { deleteUntagged: 'false' } }, 'nx.json plugin option retention.deleteUntagged must be a boolean, got the string "false"'],
    [{ budgets: { failBytes: '1GB' } }, 'nx.json plugin option budgets.failBytes must be a number, got the string "1GB"'],
    [{ insecureRegistries: '127.0.0.1:5000' }, 'nx.json plugin option insecureRegistries must be a list, got the string "127.0.0.1:5000"'],
    [{ insecureRegistries: ['registry.example.com/path'] }, 'invalid registry address "registry.example.com/path" (from nx.json plugin option insecureRegistries[0])'],
    [{ baseImages: { 'debian:bookworm': 7 } }, 'nx.json plugin option baseImages.debian:bookworm must be a string, got the number 7'],
    [{ caFile: true }, 'nx.json plugin option caFile must be a string, got the boolean true'],
    [[], 'the nx.json plugin options must be an object, got an empty list'],
    ['registry', 'the nx.json plugin options must be an object, got the string "registry"'],
  ])('%j is refused: %s', (options, message) => {
    const error = refusal(options);
    expect(error).toBeInstanceOf(AurenError);
    expect(error.kind).toBe('config');
    expect(error.message).toBe(message);
    expect(error.hint).toBeTruthy();
  });

  it.each<[NodeJS.ProcessEnv, string]>([
    [{ AUREN_SCANNER: 'none' }, 'environment variable AUREN_SCANNER must be one of trivy, grype, got the string "none"'],
    [{ AUREN_SCANNER: 'Trivy' }, 'environment variable AUREN_SCANNER must be one of trivy, grype, got the string "Trivy"'],
    [{ AUREN_SIGNING_KEY: 'cosign.key' }, 'signing.keyless and signing.key (or AUREN_SIGNING_KEY) are both set'],
  ])('environment override %j is refused: %s', (env, message) => {
    expect(refusal({ signing: { keyless: true, identity: 'i', issuer: 'o' } }, env).message).toBe(message);
  });

  it('an empty override counts as unset (CI expands a missing variable to "")', () => {
    expect(normalizeOptions({ scan: { scanner: 'grype' } }, { AUREN_SCANNER: '', AUREN_REGISTRY: '' }).scan.scanner).toBe('grype');
  });

  it('keeps the monitor section for the monitor to check (it has its own normalisation)', () => {
    expect(() => normalizeOptions({ monitor: { quotaBytes: 1e9 } } as never, {})).not.toThrow();
  });
});

/** Every value of the normalised config has the type AurenConfig says, with no undefined where none is allowed. */
function expectFullyTyped(config: AurenConfig): void {
  const isStringList = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
  expect(typeof config.registry).toBe('string');
  expect(typeof config.namespace).toBe('string');
  expect(['auto', 'buildah', 'docker', 'podman']).toContain(config.builder);
  expect(Object.values(config.baseImages).every((v) => typeof v === 'string')).toBe(true);
  expect(['trivy', 'grype']).toContain(config.scan.scanner);
  expect(config.scan.severity.length).toBeGreaterThan(0);
  expect(config.scan.severity.every((s) => SEVERITIES.includes(s))).toBe(true);
  expect(typeof config.scan.ignoreUnfixed).toBe('boolean');
  expect(['never', 'loopback', 'always']).toContain(config.scan.allowUnscanned);
  expect(config.scan.ignore.every((r) => typeof r.id === 'string' && r.id.length > 0)).toBe(true);
  expect(isStringList(config.scan.secretAllowPaths)).toBe(true);
  expect(isStringList(config.tags.mainBranches) && isStringList(config.tags.developBranches)).toBe(true);
  expect(typeof config.tags.aliases).toBe('boolean');
  expect(typeof config.tags.pushPullRequests).toBe('boolean');
  expect(typeof config.tags.initialVersion).toBe('string');
  for (const rules of [config.retention, ...Object.values(config.retention.overrides)]) {
    expect(Number.isInteger(rules.keepReleases) && rules.keepReleases >= 0).toBe(true);
    expect(typeof rules.devMaxAgeDays === 'number' && rules.devMaxAgeDays >= 0).toBe(true);
    expect(typeof rules.deleteUntagged).toBe('boolean');
    expect(isStringList(rules.keepPatterns)).toBe(true);
  }
  expect(typeof config.budgets.warnBytes === 'number' && typeof config.budgets.failBytes === 'number').toBe(true);
  expect(isStringList(config.insecureRegistries)).toBe(true);
  expect(config.caFile === undefined || typeof config.caFile === 'string').toBe(true);
  expect(['off', 'local', 'none', 'key', 'keyless']).toContain(config.signing.mode);
}

describe('property: arbitrary options normalise fully typed, or are refused naming an option', () => {
  // Each option gets either a value of its own type or any JSON at all, so the runs reach deep
  // paths (scan.ignoreUnfixed) and not only the top level.
  const anyJson = fc.jsonValue({ maxDepth: 3 });
  const maybe = <T>(valid: fc.Arbitrary<T>) => fc.oneof(valid, anyJson, fc.constantFrom('false', 'true', '', '0', null));
  const severity = fc.constantFrom(...SEVERITIES, 'high', 'SEVERE');
  const scan = fc.record(
    {
      scanner: maybe(fc.constantFrom('trivy', 'grype')),
      severity: maybe(fc.array(maybe(severity), { maxLength: 4 })),
      ignoreUnfixed: maybe(fc.boolean()),
      ignore: maybe(fc.array(fc.record({ id: maybe(fc.constantFrom('CVE-2024-1', 'GHSA-x')), expires: maybe(fc.constantFrom('2030-01-01', '2020-13-01')) }, { requiredKeys: [] }), { maxLength: 2 })),
      allowUnscanned: maybe(fc.constantFrom('never', 'loopback', 'always')),
      secretAllowPaths: maybe(fc.array(fc.string(), { maxLength: 2 })),
    },
    { requiredKeys: [] },
  );
  const rules = fc.record(
    { keepReleases: maybe(fc.nat(20)), keepPatterns: maybe(fc.array(fc.string(), { maxLength: 2 })), devMaxAgeDays: maybe(fc.nat(90)), deleteUntagged: maybe(fc.boolean()) },
    { requiredKeys: [] },
  );
  const options = fc.record(
    {
      registry: maybe(fc.constantFrom('127.0.0.1:5000', 'ghcr.io', 'u:p@ghcr.io', 'https://ghcr.io')),
      namespace: maybe(fc.constantFrom('auren', 'Team')),
      builder: maybe(fc.constantFrom('auto', 'buildah', 'kaniko')),
      baseImages: maybe(fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 })),
      scan: maybe(scan),
      tags: maybe(fc.record({ mainBranches: maybe(fc.array(fc.string(), { maxLength: 2 })), aliases: maybe(fc.boolean()), pushPullRequests: maybe(fc.boolean()), initialVersion: maybe(fc.constantFrom('0.1.0', '1')) }, { requiredKeys: [] })),
      retention: maybe(fc.record({ keepReleases: maybe(fc.nat(20)), deleteUntagged: maybe(fc.boolean()), overrides: maybe(fc.dictionary(fc.constantFrom('auren-api', 'x'), rules, { maxKeys: 2 })) }, { requiredKeys: [] })),
      budgets: maybe(fc.record({ warnBytes: maybe(fc.nat()), failBytes: maybe(fc.nat()) }, { requiredKeys: [] })),
      insecureRegistries: maybe(fc.array(fc.constantFrom('127.0.0.1:5000', 'build-box:5000', 'a b'), { maxLength: 2 })),
      caFile: maybe(fc.constant('certs/ca.pem')),
      signing: maybe(fc.record({ key: maybe(fc.constant('cosign.key')), keyless: maybe(fc.boolean()), tlog: maybe(fc.boolean()) }, { requiredKeys: [] })),
      // A typo of an option must be refused, never dropped.
      sacn: fc.constant({}),
    },
    { requiredKeys: [] },
  );
  const input = fc.oneof({ weight: 5, arbitrary: options }, { weight: 1, arbitrary: anyJson });

  it('never crashes, never weakens the scan gate', () => {
    fc.assert(
      fc.property(input, (raw) => {
        let config: AurenConfig;
        try {
          config = normalizeOptions(raw as never, {});
        } catch (error) {
          expect(error).toBeInstanceOf(AurenError);
          expect((error as AurenError).kind).toBe('config');
          expect((error as AurenError).message).toMatch(/nx\.json plugin option|in the nx\.json plugin options|the nx\.json plugin options must be/);
          expect((error as AurenError).message).not.toContain('u:p@');
          return;
        }
        expectFullyTyped(config);
        const given = (raw ?? {}) as { scan?: Record<string, unknown>; signing?: Record<string, unknown> };
        // The gate is exactly as strict as written, or the default where nothing is written.
        expect(config.scan.ignoreUnfixed).toBe(given.scan?.ignoreUnfixed ?? false);
        expect(config.scan.allowUnscanned).toBe(given.scan?.allowUnscanned ?? 'loopback');
        expect(config.scan.severity).toEqual(given.scan?.severity ?? ['HIGH', 'CRITICAL']);
        expect(config.signing.mode === 'keyless').toBe(given.signing?.keyless === true);
      }),
      { numRuns: 2000 },
    );
  });
});
