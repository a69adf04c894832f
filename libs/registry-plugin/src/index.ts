export { createNodes } from './plugin/create-nodes';
export type { RegistryPluginOptions, AurenConfig } from './lib/config/options';
export type { ImageRecord, PushRecord, ScanVerdict } from './lib/reports/records';
