import fc from 'fast-check';
import { AurenError } from '../../errors/errors';
import { parseChallenges } from '../auth/challenge';
import { parseNextLink } from '../listing';

/** `WWW-Authenticate` and `Link` come from the registry: parsed without crashing, whatever they hold. */
const token = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+'), minLength: 1, maxLength: 12 });
const quotedValue = fc.string({ maxLength: 40 });
const challenge = fc.record({
  scheme: fc.constantFrom('Bearer', 'Basic', 'Digest', 'bearer'),
  params: fc.uniqueArray(fc.tuple(token, quotedValue), { maxLength: 4, selector: ([k]) => k.toLowerCase() }),
});
const quote = (value: string) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;

describe('WWW-Authenticate', () => {
  it('never throws, and gives lower-case schemes and param names', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('Bearer realm="', 'Bearer ,,,', '=,=', 'Basic ====', '"')), (header) => {
        for (const c of parseChallenges(header)) {
          expect(c.scheme).toBe(c.scheme.toLowerCase());
          for (const name of Object.keys(c.params)) expect(name).toBe(name.toLowerCase());
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('reads back what a server wrote, quoted values with commas and escapes included', () => {
    fc.assert(
      fc.property(fc.array(challenge, { minLength: 1, maxLength: 3 }).filter((list) => list.every((c) => c.params.length > 0)), (list) => {
        const header = list.map((c) => `${c.scheme} ${c.params.map(([k, v]) => `${k}=${quote(v)}`).join(', ')}`).join(', ');
        const parsed = parseChallenges(header);
        expect(parsed.map((c) => c.scheme)).toEqual(list.map((c) => c.scheme.toLowerCase()));
        parsed.forEach((c, i) => expect(c.params).toEqual(Object.fromEntries(list[i].params.map(([k, v]) => [k.toLowerCase(), v]))));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('Link', () => {
  const current = 'https://registry.example:5000/v2/app/tags/list?n=10';

  it('gives an http(s) URL, nothing, or a typed error, for any header', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `<${s}>; rel="next"`),
          fc.constantFrom('<http://[>; rel="next"', '<javascript:alert(1)>; rel=next', '<file:///etc/passwd>; rel="next"', '<>; rel="next"', '<//evil.example/x>; rel="next"'),
        ),
        (header) => {
          let next: string | undefined;
          try {
            next = parseNextLink(header, current);
          } catch (error) {
            expect(error).toBeInstanceOf(AurenError);
            return;
          }
          if (next !== undefined) expect(new URL(next).protocol).toMatch(/^https?:$/);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('resolves the next page against the current one, among other relations', () => {
    fc.assert(
      fc.property(token, fc.nat(), (last, n) => {
        const header = `</v2/app/tags/list?last=${last}&n=${n}>; rel="next", <https://docs.example/>; rel="help"`;
        expect(parseNextLink(header, current)).toBe(`https://registry.example:5000/v2/app/tags/list?last=${last}&n=${n}`);
      }),
    );
  });
});
