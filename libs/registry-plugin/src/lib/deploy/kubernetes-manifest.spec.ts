import { defaultSecretName } from './kubernetes-manifest';

describe('kubernetes-manifest options', () => {
  it('default Secret names are valid object names for every registry form', () => {
    expect(defaultSecretName('127.0.0.1:5000')).toBe('registry-127-0-0-1-5000');
    expect(defaultSecretName('registry.digitalocean.com')).toBe('registry-registry-digitalocean-com');
    expect(defaultSecretName('[::1]:5000')).toBe('registry-1-5000');
  });
});
