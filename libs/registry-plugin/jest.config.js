module.exports = {
  displayName: 'registry-plugin',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  testTimeout: 120000,
};
