export {
  builderTlsArgs,
  certsDirRoots,
  createDispatcher,
  dispatcherFor,
  explainTlsError,
  loadRegistryTrust,
  type BuilderTls,
  type BuilderTlsOptions,
  type ClientCertificate,
  type RegistryTrust,
  type TrustOptions,
} from './trust';
