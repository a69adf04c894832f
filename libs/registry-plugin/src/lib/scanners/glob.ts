/** `*` within a path segment, `**` across segments, `?` one character (image paths, workspace paths). */
export function globToRegExp(glob: string): RegExp {
  const source = glob.replace(/^\/+/, '');
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '*' && source[i + 1] === '*') {
      out += source[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += source[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}
