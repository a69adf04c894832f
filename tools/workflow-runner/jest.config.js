module.exports = {
  displayName: 'workflow-runner',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  // The runner tests run real bash scripts and git.
  testTimeout: 60000,
};
