import { fetch, type Dispatcher } from 'undici';
import { isLoopbackRegistry } from '../reference';
import { networkFailure, speaksPlainHttp, TLS_CODES } from './failures';

export type RegistryScheme = 'https' | 'http';

export interface ProbeOptions {
  /** The registry's trust (an undici `Agent` from `createDispatcher`); certificate errors still mean HTTPS. */
  dispatcher?: Dispatcher;
  timeoutMs?: number;
}

/**
 * How to reach a registry that is not configured insecure, decided as Docker and containers/image
 * do: HTTPS, unless it is a loopback host that does not speak TLS. Only a connection-level sign of
 * plain HTTP (a plain answer to our TLS hello) chooses `http`; a certificate error means the server
 * speaks TLS. A loopback registry that does not answer at all keeps the historical `http` (the
 * embedded registry before it starts); the builder then fails on the connection, not the scheme.
 */
export async function probeRegistryScheme(registry: string, options: ProbeOptions = {}): Promise<RegistryScheme> {
  if (!isLoopbackRegistry(registry)) return 'https';
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 10_000);
  try {
    const res = await fetch(`https://${registry}/v2/`, {
      method: 'GET',
      dispatcher: options.dispatcher,
      redirect: 'manual',
      signal: controller.signal,
    } as Parameters<typeof fetch>[1]);
    await res.arrayBuffer().catch(() => undefined);
    return 'https';
  } catch (error) {
    if (speaksPlainHttp(error)) return 'http';
    const failure = networkFailure(error);
    return failure && TLS_CODES.test(failure.code) ? 'https' : 'http';
  } finally {
    clearTimeout(timer);
  }
}
