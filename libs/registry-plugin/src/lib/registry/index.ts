export * from './reference';
export * from './digest';
export * from './media-types';
export * from './client';
export * from './layout';
export * from './push';
export * from './copy';
export * from './image-graph';
