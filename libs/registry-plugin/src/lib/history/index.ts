export * from './event';
export * from './store';
export * from './window';
