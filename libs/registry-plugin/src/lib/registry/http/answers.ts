import type { Response } from 'undici';
import { AurenError } from '../../errors/errors';
import { isDigest } from '../digest';

/**
 * Reading registry answers: status → `AurenError` (one `checkStatus`), bounded bodies, the
 * headers the protocol relies on. Errors name the registry and the request ("HEAD blob … in …").
 */
export interface AnswerContext {
  registry: string;
  /** The API origin as decided now (the scheme of a loopback registry is found on first contact). */
  baseUrl: () => string;
  redact: (text: string) => string;
}

export interface Answers {
  /** Returns when `res.status` is one of `expected`; otherwise the registry's error, with `hint`. */
  checkStatus(res: Response, what: string, expected: readonly number[], hint?: string): Promise<void>;
  unexpected(res: Response, what: string, hint?: string): Promise<AurenError>;
  garbage(what: string, problem: string): AurenError;
  /** The `errors` of a distribution error body, or the start of the body. */
  describeBody(res: Response): Promise<string>;
  readLimited(res: Response, limit: number, what: string): Promise<Buffer>;
  readJson<T>(res: Response, what: string): Promise<T>;
  /** `Location` as an absolute URL. */
  location(res: Response, what: string): string;
  digestHeader(res: Response, what: string): string | undefined;
}

const MAX_JSON_BYTES = 32 * 1024 * 1024;

export async function discard(res: Response): Promise<void> {
  await res.arrayBuffer().catch(() => undefined);
}

export function createAnswers(context: AnswerContext): Answers {
  const { registry, redact } = context;

  async function describeBody(res: Response): Promise<string> {
    const text = await res.text().catch(() => '');
    try {
      // Error bodies are JSON per the distribution spec ("Error Codes"); anything else is shown raw.
      const parsed = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
      if (Array.isArray(parsed.errors) && parsed.errors.length) {
        return parsed.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
      }
    } catch {
      // not JSON: show the start of it
    }
    return redact(text.replace(/\s+/g, ' ').trim().slice(0, 200));
  }

  async function unexpected(res: Response, what: string, hint?: string): Promise<AurenError> {
    const detail = await describeBody(res);
    return new AurenError(
      'registry',
      `registry ${registry} answered ${res.status} to ${what}${detail ? `: ${detail}` : ''}`,
      hint ?? (res.status >= 500 ? 'The registry is failing; check its logs or status page and retry.' : undefined),
    );
  }

  function garbage(what: string, problem: string): AurenError {
    return new AurenError(
      'registry',
      `registry ${registry} sent an invalid answer to ${what}: ${problem}`,
      `Check that ${context.baseUrl()} is an OCI distribution registry and not a proxy or web page answering in its place.`,
    );
  }

  async function checkStatus(res: Response, what: string, expected: readonly number[], hint?: string): Promise<void> {
    if (!expected.includes(res.status)) throw await unexpected(res, what, hint);
  }

  async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > limit) {
      await res.body?.cancel().catch(() => undefined);
      throw garbage(what, `${declared} bytes is more than the ${limit} allowed`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        if (total > limit) throw garbage(what, `more than the ${limit} bytes allowed`);
        chunks.push(Buffer.from(chunk));
      }
    }
    return Buffer.concat(chunks);
  }

  async function readJson<T>(res: Response, what: string): Promise<T> {
    const body = await readLimited(res, MAX_JSON_BYTES, what);
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch {
      throw garbage(what, `expected JSON, got "${redact(body.toString('utf8', 0, 80)).replace(/\s+/g, ' ')}"`);
    }
  }

  function location(res: Response, what: string): string {
    const value = res.headers.get('location');
    if (!value) throw garbage(what, `${res.status} without a Location header`);
    let url: URL;
    try {
      url = new URL(value, context.baseUrl());
    } catch {
      throw garbage(what, `a Location that is not a URL (${JSON.stringify(redact(value).slice(0, 160))})`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw garbage(what, `a Location on ${url.protocol}`);
    return url.toString();
  }

  function digestHeader(res: Response, what: string): string | undefined {
    const value = res.headers.get('docker-content-digest') ?? undefined;
    if (value !== undefined && !isDigest(value)) throw garbage(what, `malformed Docker-Content-Digest "${value}"`);
    return value;
  }

  return { checkStatus, unexpected, garbage, describeBody, readLimited, readJson, location, digestHeader };
}
