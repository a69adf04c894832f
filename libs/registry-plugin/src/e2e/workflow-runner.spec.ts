import { newestVersion } from './workflow-runner';

describe('newestVersion', () => {
  it('picks the highest semantic version of the project, not the last in text order', () => {
    expect(newestVersion(['app@0.9.0', 'app@0.10.0', 'app@0.2.1', 'other@9.0.0', 'app@bad'], 'app')).toBe('0.10.0');
    expect(newestVersion(['other@1.0.0'], 'app')).toBeUndefined();
  });
});
