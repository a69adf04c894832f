/** The embedded registry a fresh clone pushes to, and the namespace its repositories live under. */
export const DEFAULT_REGISTRY = '127.0.0.1:5000';
export const DEFAULT_NAMESPACE = 'auren';
/** The push history's repository under the namespace, and the vendor label of every image. */
export const DEFAULT_HISTORY_REPOSITORY = 'auren-history';
export const DEFAULT_VENDOR = 'AUREN';
