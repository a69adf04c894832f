import { parseFileCommands } from './file-commands';

describe('file commands', () => {
  it('reads name=value and heredoc blocks', () => {
    expect(parseFileCommands('a=1\nb=x=y\nlist<<EOF\nline 1\nline=2\nEOF\n\nc=\n', 'GITHUB_OUTPUT')).toEqual([
      ['a', '1'],
      ['b', 'x=y'],
      ['list', 'line 1\nline=2'],
      ['c', ''],
    ]);
  });

  it('names the file and the line it cannot read', () => {
    expect(() => parseFileCommands('just words', 'GITHUB_ENV')).toThrow(/GITHUB_ENV: cannot read the line "just words"/);
    expect(() => parseFileCommands('x<<EOF\nno end', 'GITHUB_ENV')).toThrow(/no closing delimiter "EOF"/);
  });
});
