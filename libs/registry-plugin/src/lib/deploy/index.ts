export * from './manifest';
export * from './kubernetes-secret';
