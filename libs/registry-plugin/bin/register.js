// Loads the plugin's TypeScript sources directly (no prebuild step), as Nx does for local plugins.
require('@swc-node/register');
