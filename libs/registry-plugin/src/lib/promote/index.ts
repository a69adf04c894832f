export * from './copy-plan';
export * from './promote';
export * from './mirror';
export * from './run';
