export * from './sbom';
export * from './referrers';
export * from './cosign';
export * from './sign';
export * from './verify';
export * from './publish';
