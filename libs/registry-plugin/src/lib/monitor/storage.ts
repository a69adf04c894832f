import { statfs } from 'node:fs/promises';
import type { ProviderStorage } from './report';

/**
 * Optional capability of a provider adapter that knows its storage use and quota
 * (DigitalOcean: `GET /v2/registry` → storage_usage_bytes against the subscription tier's
 * storage_included_bytes). Self-hosted registries have none; the monitor then counts blobs and
 * looks at the disk.
 */
export interface StorageUsage {
  storageUsage(): Promise<ProviderStorage>;
}

export function hasStorageUsage(value: unknown): value is StorageUsage {
  return !!value && typeof (value as Partial<StorageUsage>).storageUsage === 'function';
}

/** statfs of the filesystem holding `path`; undefined when the folder is not on this machine. */
export async function diskUsage(path: string): Promise<{ path: string; totalBytes: number; freeBytes: number; usedBytes: number } | undefined> {
  try {
    const s = await statfs(path);
    const totalBytes = s.blocks * s.bsize;
    // `bavail`, not `bfree`: blocks reserved for root are not space the registry can use.
    const freeBytes = s.bavail * s.bsize;
    return { path, totalBytes, freeBytes, usedBytes: totalBytes - s.bfree * s.bsize };
  } catch {
    return undefined;
  }
}
