export interface InitGeneratorSchema {
  /** Registry address, host[:port] without scheme. */
  registry?: string;
  /** Repository namespace in the registry. */
  namespace?: string;
}
