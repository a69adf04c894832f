export * from './event';
export * from './store';
export * from './window';
export * from './push-times';
