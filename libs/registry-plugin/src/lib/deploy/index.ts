export * from './manifest';
export * from './kubernetes-secret';
export * from './signature-gate';
export * from './deploy-manifest';
export * from './kubernetes-manifest';
