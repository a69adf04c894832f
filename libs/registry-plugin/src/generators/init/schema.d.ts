export interface InitGeneratorSchema {
  /** Registry address, host[:port] without scheme. Default: AUREN_REGISTRY's, else 127.0.0.1:5000. */
  registry?: string;
  /** Repository namespace in the registry. Default: AUREN_REGISTRY's, else auren. */
  namespace?: string;
}
