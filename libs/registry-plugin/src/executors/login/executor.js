// Nx tries executor.js before executor.ts: the source through bin/register.js's transpile cache.
require('../../../bin/register');
module.exports = require('./executor.ts');
