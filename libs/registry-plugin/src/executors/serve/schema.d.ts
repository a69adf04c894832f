export interface ServeExecutorSchema {
  /** run in the foreground, detach into the background, stop a detached registry, or tell its status. */
  action?: 'run' | 'detach' | 'stop' | 'status';
  /** host:port to listen on; AUREN_LOCAL_REGISTRY_ADDR wins over it. Default: 127.0.0.1:5000. */
  address?: string;
  /** Folder of the registry's data, configuration, pid file and log; AUREN_LOCAL_REGISTRY_DIR wins over it. */
  dataDir?: string;
}
