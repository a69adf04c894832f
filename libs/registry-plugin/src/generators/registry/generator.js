// Nx tries generator.js before generator.ts: the source through bin/register.js's transpile cache.
require('../../../bin/register');
module.exports = require('./generator.ts');
