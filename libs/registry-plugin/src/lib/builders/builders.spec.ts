import { createBuilder } from './index';
import type { BuildRequest } from './builder';
import { registriesConf } from './registries-conf';

const request: BuildRequest = {
  context: '/ws/apps/api',
  dockerfile: '/ws/apps/api/Dockerfile',
  buildArgs: { BASE_IMAGE: '127.0.0.1:5000/base/debian:bookworm' },
  labels: { 'org.opencontainers.image.version': '1.2.3' },
  platforms: [],
  target: undefined,
  outputDir: '/ws/dist/images/api/oci',
  insecureRegistries: ['127.0.0.1:5000'],
  certDir: undefined,
  cacheFrom: [],
  cacheTo: [],
  timestamp: 1700000000,
  localName: 'localhost/auren-build/api:abc',
  env: {},
  verbose: false,
};

describe('builder argv', () => {
  it('buildah: one platform builds, then pushes to an OCI layout', () => {
    const [bud, push] = createBuilder('buildah').plan(request);
    expect(bud).toEqual([
      'buildah', '--storage-driver', 'vfs', 'build', '--isolation', 'chroot', '--layers', '--pull=always',
      '-f', '/ws/apps/api/Dockerfile',
      '--build-arg', 'BASE_IMAGE=127.0.0.1:5000/base/debian:bookworm',
      // Labels are written into the config at export, not as LABEL steps (one commit each).
      '--timestamp', '1700000000',
      '-t', 'localhost/auren-build/api:abc', '-t', 'localhost/auren-build/api:latest',
      '/ws/apps/api',
    ]);
    expect(push.slice(-2)).toEqual(['localhost/auren-build/api:abc', 'oci:/ws/dist/images/api/oci:latest']);
  });

  it('buildah: several platforms build a manifest list and push all of it', () => {
    const [bud, push] = createBuilder('buildah').plan({ ...request, platforms: ['linux/amd64', 'linux/arm64'] });
    expect(bud).toEqual(expect.arrayContaining(['--platform', 'linux/amd64,linux/arm64', '--manifest', 'localhost/auren-build/api:abc']));
    expect(bud).toEqual(expect.arrayContaining(['--label', 'org.opencontainers.image.version=1.2.3']));
    expect(push).toEqual(expect.arrayContaining(['manifest', 'push', '--all']));
  });

  it('buildah honours STORAGE_DRIVER and BUILDAH_ISOLATION', () => {
    const [bud] = createBuilder('buildah').plan({ ...request, env: { STORAGE_DRIVER: 'overlay', BUILDAH_ISOLATION: 'oci' } });
    expect(bud.slice(0, 6)).toEqual(['buildah', '--storage-driver', 'overlay', 'build', '--isolation', 'oci']);
  });

  it('buildah gives overlay its own storage root', () => {
    const [bud] = createBuilder('buildah').plan({ ...request, env: { STORAGE_DRIVER: 'overlay', AUREN_BUILDAH_ROOT: '/var/lib/containers/auren-overlay' } });
    expect(bud.slice(0, 8)).toEqual([
      'buildah', '--storage-driver', 'overlay', '--root', '/var/lib/containers/auren-overlay',
      '--runroot', '/var/lib/containers/auren-overlay.run', 'build',
    ]);
  });

  it('docker buildx exports an OCI layout with registry cache', () => {
    const [argv] = createBuilder('docker').plan({ ...request, cacheFrom: ['r/x:buildcache'], cacheTo: ['r/x:buildcache'], platforms: ['linux/amd64', 'linux/arm64'] });
    expect(argv.slice(0, 3)).toEqual(['docker', 'buildx', 'build']);
    expect(argv).toEqual(expect.arrayContaining([
      '--cache-from', 'type=registry,ref=r/x:buildcache',
      '--cache-to', 'type=registry,ref=r/x:buildcache,mode=max',
      '--output', 'type=oci,dest=/ws/dist/images/api/oci,tar=false',
      '--platform', 'linux/amd64,linux/arm64',
    ]));
  });

  it('podman pushes to an OCI layout', () => {
    const [build, push] = createBuilder('podman').plan(request);
    expect(build.slice(0, 2)).toEqual(['podman', 'build']);
    expect(push.slice(-1)).toEqual(['oci:/ws/dist/images/api/oci:latest']);
  });

  it('registries.conf marks only the listed registries insecure', () => {
    const conf = registriesConf(['127.0.0.1:5000', 'localhost:6000']);
    expect(conf.match(/insecure = true/g)).toHaveLength(2);
    expect(conf).toContain('location = "127.0.0.1:5000"');
  });
});
