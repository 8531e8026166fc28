export * from './errors.js';
export * from './users.js';
export * from './auth.js';
export * from './health.js';
export * from './audit.js';
export * from './events.js';
export * from './tasks.js';
export * from './nodes.js';
