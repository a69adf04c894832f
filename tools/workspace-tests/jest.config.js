module.exports = {
  displayName: 'workspace-tests',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  // Some tests run real `nx show` commands, which compute the project graph.
  testTimeout: 180000,
};
