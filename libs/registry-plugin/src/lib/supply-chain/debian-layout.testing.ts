import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readOciLayout, type OciLayout } from '../registry/layout';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from '../registry/media-types';
import { tarOf } from '../registry/layout.testing';

/**
 * For tests: a one-layer OCI image layout holding a real Debian package database — this
 * machine's (Debian bookworm) `/etc/os-release`, `/etc/debian_version` and a chosen subset of the
 * stanzas of `/var/lib/dpkg/status` — so Trivy's dpkg analyzer sees real packages without a
 * builder. Each layout gets a unique config, so every call is a new image digest.
 */

export interface DpkgPackage {
  name: string;
  version: string;
  architecture: string;
}

export interface DebianLayout {
  dir: string;
  digest: string;
  layout: OciLayout;
  packages: DpkgPackage[];
}

/** The stanzas of a dpkg status file, with what an SBOM must name from each. */
export function parseDpkgStatus(text: string): Array<DpkgPackage & { stanza: string; installed: boolean }> {
  return text
    .split(/\n\n+/)
    .map((stanza) => stanza.trim())
    .filter(Boolean)
    .map((stanza) => {
      const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(stanza)?.[1]?.trim() ?? '';
      return {
        name: field('Package'),
        version: field('Version'),
        architecture: field('Architecture'),
        installed: / installed$/.test(field('Status')),
        stanza,
      };
    });
}

export async function writeDebianLayout(packageNames: string[], extraFiles: Record<string, string> = {}): Promise<DebianLayout> {
  const all = parseDpkgStatus(readFileSync('/var/lib/dpkg/status', 'utf8')).filter((p) => p.installed);
  const chosen = packageNames.map((name) => {
    const found = all.find((p) => p.name === name);
    if (!found) throw new Error(`package ${name} is not installed on this machine`);
    return found;
  });
  const tar = await tarOf({
    'etc/os-release': readFileSync('/etc/os-release', 'utf8'),
    'etc/debian_version': readFileSync('/etc/debian_version', 'utf8'),
    'var/lib/dpkg/status': `${chosen.map((p) => p.stanza).join('\n\n')}\n`,
    ...extraFiles,
  });
  const dir = await mkdtemp(join(tmpdir(), 'auren-debian-layout-'));
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (data: Buffer) => {
    const hex = createHash('sha256').update(data).digest('hex');
    await writeFile(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const layer = gzipSync(tar);
  const layerDesc = { mediaType: OCI_LAYER_GZIP, ...(await put(layer)) };
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { nonce: randomBytes(8).toString('hex') } },
      rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(tar).digest('hex')}`] },
    }),
  );
  const configDesc = { mediaType: OCI_CONFIG, ...(await put(config)) };
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDesc, layers: [layerDesc] }));
  const manifestDesc = { mediaType: OCI_MANIFEST, ...(await put(manifest)) };
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [manifestDesc] }));
  const layout = await readOciLayout(dir);
  return { dir, digest: layout.digest, layout, packages: chosen.map(({ name, version, architecture }) => ({ name, version, architecture })) };
}
