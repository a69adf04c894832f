import { testPushRecord } from '../testing/push-record.testing';
import { pushedTable, scanCell } from './pushed';

/** The final table shows the scan with counts, SBOM, signature and provenance. */

describe('pushed table', () => {
  const signed = testPushRecord({
    project: 'auren-api',
    tags: ['v1.2.0', 'latest'],
    scan: { verdict: 'warn', scanner: 'trivy 0.74.0', critical: 0, high: 2 },
    supplyChain: {
      sbom: { status: 'attached', detail: 'sha256:1' },
      signature: { status: 'signed', detail: 'the local key pair (.auren/signing/cosign.pub)' },
      provenance: { status: 'attested', detail: 'SLSA v1' },
    },
  });
  const bare = testPushRecord({
    project: 'auren-nginx',
    scan: { verdict: 'not-scanned', critical: 0, high: 0, cause: 'no vulnerability database: serve one with `nx run registry:trivy-db --from=ghcr.io/aquasecurity/trivy-db:2`' },
    supplyChain: {
      sbom: { status: 'missing', detail: 'no sbom' },
      signature: { status: 'off', detail: 'signing is off' },
      provenance: { status: 'off', detail: 'signing is off' },
    },
  });
  const old = testPushRecord({ project: 'biometric-bridge', scan: { verdict: 'pass', critical: 0, high: 0 } });

  it('has a column for each, with what the digest carries', () => {
    const lines = pushedTable([signed, bare, old], 'text').split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['image', 'tags', 'digest', 'size', 'scan', 'sbom', 'signature', 'provenance']);
    expect(lines[2].split(/\s{2,}/).slice(4)).toEqual(['warn (0 critical, 2 high)', 'CycloneDX', 'signed (local key)', 'SLSA v1']);
    // Never a bare not-scanned, nor counts that would read as a clean scan: the cause and what to do.
    expect(lines[3].split(/\s{2,}/).slice(4)).toEqual(['not-scanned: no vulnerability database: serve one with `nx run registry:trivy-db --from=ghcr.io/aquasecurity/trivy-db:2`', 'missing', 'off', 'off']);
    // A record from before docker-push recorded the supply chain: unknown, not "missing".
    expect(lines[4].split(/\s{2,}/).slice(4)).toEqual(['pass (0 critical, 0 high)', '?', '?', '?']);
  });

  it('renders the same cells as Markdown for the job summary', () => {
    expect(pushedTable([signed], 'markdown').split('\n')[2]).toMatch(/\| warn \(0 critical, 2 high\) \| CycloneDX \| signed \(local key\) \| SLSA v1 \|$/);
  });

  it.each([
    [{ verdict: 'blocked' as const, critical: 1, high: 3 }, 'blocked (1 critical, 3 high)'],
    [{ verdict: 'not-scanned' as const, cause: 'no trivy on PATH: install it with `bash tools/scripts/setup.sh --product-tools`' }, 'not-scanned: no trivy on PATH: install it with `bash tools/scripts/setup.sh --product-tools`'],
    [{ verdict: 'blocked' as const, critical: 0, high: 0, cause: 'no trivy on PATH: install it with `bash tools/scripts/setup.sh --product-tools`' }, 'blocked: no trivy on PATH: install it with `bash tools/scripts/setup.sh --product-tools`'],
    // A push.json written before the cause was recorded.
    [{ verdict: 'not-scanned' as const }, 'not-scanned (cause not recorded)'],
  ])('scan %j → %s', (scan, cell) => {
    expect(scanCell(scan)).toBe(cell);
  });
});
