import { AurenError } from '../errors/errors';
import { baseImageBuildArgs, parseDockerfile } from './dockerfile';

const mapping = { 'debian:bookworm-slim': '127.0.0.1:5000/base/debian:bookworm' };

describe('parseDockerfile + baseImageBuildArgs', () => {
  it.each([
    [
      'multi-stage with BASE_IMAGE',
      'ARG BASE_IMAGE=debian:bookworm-slim\nFROM ${BASE_IMAGE} AS build\nRUN true\nFROM ${BASE_IMAGE} AS runtime\n',
      { BASE_IMAGE: '127.0.0.1:5000/base/debian:bookworm' },
      ['build', 'runtime'],
    ],
    ['quoted default, $VAR form', 'ARG BASE="debian:bookworm-slim"\nFROM $BASE\n', { BASE: '127.0.0.1:5000/base/debian:bookworm' }, []],
    ['unmapped default is left alone', 'ARG BASE_IMAGE=alpine:3\nFROM ${BASE_IMAGE}\n', {}, []],
    ['ARG not used in FROM', 'ARG X=debian:bookworm-slim\nFROM scratch\n', {}, []],
    ['ARG after FROM is a stage arg', 'FROM scratch\nARG BASE_IMAGE=debian:bookworm-slim\n', {}, []],
    ['line continuations and flags', 'ARG BASE_IMAGE=debian:bookworm-slim\nFROM --platform=$BUILDPLATFORM \\\n  ${BASE_IMAGE} AS b\n', { BASE_IMAGE: '127.0.0.1:5000/base/debian:bookworm' }, ['b']],
  ])('%s', (_name, content, expected, stages) => {
    const info = parseDockerfile(content, 'Dockerfile');
    expect(baseImageBuildArgs(info, mapping)).toEqual(expected);
    expect(info.stages).toEqual(stages);
  });

  it('rejects a Dockerfile without FROM', () => {
    expect(() => parseDockerfile('RUN true\n', 'apps/x/Dockerfile')).toThrow(AurenError);
    expect(() => parseDockerfile('RUN true\n', 'apps/x/Dockerfile')).toThrow(/no FROM instruction/);
  });
});
