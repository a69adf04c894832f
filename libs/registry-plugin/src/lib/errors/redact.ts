/**
 * Secrets never reach the terminal: every error is turned into text in one place
 * (`formatError`), and that text passes through here first.
 */

/** Replaces every secret (4 characters or more) in `text` by `***`; used wherever output may carry one. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret && secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}

/** Variables whose values are credentials: registry passwords, provider tokens, cosign's key password. */
const SECRET_NAME = /(PASSWORD|PASSWD|PASSPHRASE|TOKEN|SECRET|_PASS$|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?$)/i;
/** Values too common to be taken for a secret (a flag set to `true` would blank every "true"). */
const NOT_A_SECRET = /^(true|false|null|none|yes|no|on|off)$/i;

export function environmentSecrets(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && value !== undefined && value.length >= 4 && !NOT_A_SECRET.test(value))
    .map(([, value]) => value as string);
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
/** A digest at the end of an image reference (`…@sha256:<hex>`): its `@` is not userinfo. */
const TRAILING_DIGEST = /@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/**
 * A registry address (`host[:port][/namespace]`, possibly written as a URL) never contains `@`
 * except as userinfo, so everything up to its last `@` is the user and password — even when the
 * password itself contains `@` or `/`.
 */
export function addressHasCredentials(address: string): boolean {
  return address.replace(SCHEME, '').includes('@');
}

/** The address with its userinfo replaced by `***`: `https://u:p@host/ns` → `https://***@host/ns`. */
export function redactAddress(address: string): string {
  const scheme = SCHEME.exec(address)?.[0] ?? '';
  const rest = address.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  return at === -1 ? address : `${scheme}***${rest.slice(at)}`;
}

/**
 * An image reference: the same, once a trailing `@<digest>` is set aside — except that a digest
 * written wrong (`app@sha256:abc`, `app@md5`) is not mistaken for a host: after a userinfo `@`
 * comes a host, with a "." or a path.
 */
export function referenceHasCredentials(reference: string): boolean {
  const rest = reference.replace(SCHEME, '').replace(TRAILING_DIGEST, '');
  const at = rest.lastIndexOf('@');
  if (at === -1) return false;
  return !/^[a-z0-9]+(?:[+_-][a-z0-9]+)*(?::[a-zA-Z0-9=_-]*)?$/.test(rest.slice(at + 1));
}

export function redactReference(reference: string): string {
  const digest = TRAILING_DIGEST.exec(reference)?.[0] ?? '';
  return redactAddress(reference.slice(0, reference.length - digest.length)) + digest;
}

/**
 * Userinfo anywhere in free text: `scheme://user:pass@` and a bare `user:pass@host` at the start
 * of a word. `repo:tag@sha256:…` is a digest reference, not userinfo, and is left alone.
 */
export function redactUserinfo(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>]+@/gi, '$1***@')
    .replace(/(^|[\s"'(<=,])[^\s"'(<=,/@]+:[^\s"'/]*@(?![a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,})(?=[a-z0-9[])/gi, '$1***@');
}

/** What every printed error passes through: the environment's secrets and any userinfo removed. */
export function redactSecrets(text: string, env: NodeJS.ProcessEnv): string {
  return redactUserinfo(redactText(text, environmentSecrets(env)));
}
