import { splitList } from './lists';

describe('splitList', () => {
  it.each([
    ['a, b,,c', ['a', 'b', 'c']],
    [['a,b', ' c '], ['a', 'b', 'c']],
    ['', []],
    [' , ', []],
    [[], []],
    [undefined, []],
    [null, []],
  ])('%p -> %p', (value, expected) => {
    expect(splitList(value as string | string[] | undefined)).toEqual(expected);
  });
});
