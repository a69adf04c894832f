import { AurenError } from '../../errors/errors';

/** Failure of the transport (no HTTP answer), with the errno-style code if there is one. */
export class NetworkFailure extends Error {
  constructor(readonly code: string, message: string, readonly original: unknown) {
    super(message);
  }
}

export const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_ABORTED',
]);
/** Failures of our own side (the blob file, its length), never the network's. */
const LOCAL_CODES = new Set(['ENOENT', 'EACCES', 'EISDIR', 'EMFILE', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH']);
export const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|EPROTO/;

export function networkFailure(error: unknown): NetworkFailure | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const e = current as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return new NetworkFailure('ETIMEDOUT', 'timed out', error);
    if (typeof e.code === 'string' && LOCAL_CODES.has(e.code)) return undefined;
    if (typeof e.code === 'string' && (RETRYABLE_CODES.has(e.code) || TLS_CODES.test(e.code) || /^E[A-Z]+$/.test(e.code))) {
      return new NetworkFailure(e.code, String(e.message ?? e.code), error);
    }
    if (typeof e.message === 'string' && /other side closed|socket hang up/i.test(e.message)) {
      return new NetworkFailure('ECONNRESET', e.message, error);
    }
    current = e.cause;
  }
  if (error instanceof TypeError && /fetch failed/.test(error.message)) return new NetworkFailure('EFETCH', error.message, error);
  return undefined;
}

/** A request that failed before reaching the network (the blob file on disk), as an input error. */
export function localFailure(error: unknown, what: string): unknown {
  let inner: unknown = error;
  while ((inner as { cause?: unknown })?.cause) inner = (inner as { cause?: unknown }).cause;
  const message = inner instanceof Error ? inner.message : String(inner);
  if (error instanceof TypeError && /fetch failed/.test(error.message)) {
    return new AurenError('input', `sending ${what} failed on our side: ${message}`, 'Check that the image artifact on disk is complete and readable (rebuild it if not).', { cause: error });
  }
  return error;
}

/**
 * The server does not speak TLS: it answered our ClientHello in plain HTTP (OpenSSL: "wrong
 * version number", "packet length too long", "http request") or hung up on it before any TLS
 * record. Certificate errors are NOT this: a server with an untrusted certificate speaks TLS,
 * and falling back to plain HTTP there would send credentials in clear to whoever answers.
 */
export function speaksPlainHttp(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const e = current as { code?: unknown; message?: unknown; cause?: unknown };
    const code = typeof e.code === 'string' ? e.code : '';
    const message = typeof e.message === 'string' ? e.message : '';
    if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/.test(code)) return false;
    if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST|RECORD_LAYER_FAILURE/.test(code)) return true;
    if (/wrong version number|packet length too long|http request|disconnected before secure TLS connection/i.test(message)) return true;
    current = e.cause;
  }
  return false;
}
