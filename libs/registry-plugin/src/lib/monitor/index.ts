export * from './collect';
export * from './evaluate';
export * from './options';
export * from './render';
export * from './report';
export * from './run';
export { readScanReports } from './scan-reports';
export type { StorageUsage } from './storage';
export { hasStorageUsage } from './storage';
