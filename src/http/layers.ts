// The layers of the HTTP client, in the shape of undici's interceptors: each takes the
// next `send` and returns one that does a little more. src/http/client.ts stacks them
// (outermost first):
//
//   retry     backoff with jitter, Retry-After (RFC 9110 §10.2.3), only while retrying can start over
//   limit     at most N attempts in flight (FIFO); an attempt's clock starts with its slot
//   redirect  follows 3xx within http(s), never https → http
//   breaker   per host: consecutive stalls / connection failures cut the host off
//   deadline  the attempt's time limit and the run's deadline
//   transport one exchange (src/http/transport.ts)
import pLimit from 'p-limit';
import { HttpError, type HttpErrorCode } from '../errors.ts';
import type { Outage } from '../types.ts';
import { Redirect, httpError, parseHttpUrl, type Send } from './transport.ts';

export type Layer = (next: Send) => Send;

/** Longest Retry-After honoured; a server asking for more is not retried within this run. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Another attempt for a retryable failure, at most `retries` more. A retry refused before it
 * was sent (the host was cut off meanwhile, or the deadline passed) is not what went wrong:
 * the request's own last failure is. `req.mayRetry()` false: a retry could no longer start
 * from scratch (bytes went on).
 */
export function retry(o: { retries: number; delayMs: number; deadline?: number }): Layer {
  return (next) => async (req, consume) => {
    let sent: unknown;
    for (let i = 0; ; i++) {
      try {
        return await next(req, consume);
      } catch (e) {
        if (e instanceof HttpError && e.notSent && sent !== undefined) throw sent;
        sent = e;
        if (i >= o.retries || !(e instanceof HttpError) || !e.retryable || req.mayRetry?.() === false) throw e;
        // A server that asks for a longer pause than we are willing to wait is not asked again.
        if (e.retryAfterMs !== undefined && e.retryAfterMs > MAX_RETRY_AFTER_MS) throw e;
        const base = Math.min(o.delayMs * 2 ** i, 5000);
        const wait = e.retryAfterMs ?? base / 2 + Math.random() * (base / 2);
        if (o.deadline !== undefined && Date.now() + wait >= o.deadline) throw e;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  };
}

/** At most `concurrency` attempts (redirects included) in flight, first come first served. */
export function limit(concurrency: number): Layer {
  const slots = pLimit(concurrency);
  return (next) => (req, consume) => slots(() => next({ ...req, startedAt: Date.now() }, consume));
}

/** Follows redirects (at most `max`) within http(s); https is never redirected to plain http. */
export function redirect(max: number): Layer {
  return (next) => async (req, consume) => {
    let current = req;
    for (let hop = 0; ; hop++) {
      try {
        return await next(current, consume);
      } catch (e) {
        if (!(e instanceof Redirect)) throw e;
        if (hop >= max) throw httpError('HTTP_STATUS', `${req.url.href} redirected more than ${max} times.`, { status: e.status });
        const to = parseHttpUrl(new URL(e.location, current.url).href);
        if (current.url.protocol === 'https:' && to.protocol === 'http:') {
          throw httpError('HTTP_BAD_URL', `${current.url.href} redirected from https to plain http (${to.href}).`);
        }
        current = { ...current, url: to };
      }
    }
  };
}

export interface Breaker {
  layer: Layer;
  /** Hosts whose breaker is open now, sorted. */
  openHosts(): string[];
  /** The hosts cut off in this run, with the cause their requests failed with, sorted by host. */
  cutOff(): { host: string; message: string; hint?: string; outage: Outage }[];
}

/**
 * Per host: `limit` consecutive stalls or connection failures cut the host off, and its
 * remaining requests fail at once with the same cause. Counted once per request, not per
 * attempt (`req.counted`), so one broken URL on a host that answers its other URLs cannot
 * cut the host off. With `coolDownMs` (a server never finishes a run) an open breaker
 * half-opens after that long: one request goes through; its failure opens it again.
 */
export function breaker(o: { limit: number; coolDownMs?: number }): Breaker {
  /** Consecutive failures, the first request that failed in the run (the URL a user is shown for the whole outage), the cause once open. */
  const hosts = new Map<string, { failures: number; firstFailedUrl?: string; open?: HttpError; openedAt?: number }>();
  const host = (name: string) => hosts.get(name) ?? hosts.set(name, { failures: 0 }).get(name)!;

  function gate(u: URL): void {
    const h = hosts.get(u.host);
    if (h?.open && o.coolDownMs !== undefined && Date.now() - (h.openedAt ?? 0) >= o.coolDownMs) {
      h.open = undefined;
      h.failures = o.limit - 1;
    }
    const open = h?.open;
    if (open) throw httpError(open.code, `${u.href} was not requested: ${open.message}`, { cause: open, hint: open.hint, outage: open.outage, notSent: true });
  }

  function note(name: string, e: unknown, counted: Set<string>): void {
    const h = host(name);
    // Any answer (a 404 too) shows the host is there: only stalls and connection failures count.
    if (!(e instanceof HttpError) || !e.hostFailure) {
      h.failures = 0;
      return;
    }
    // Every failure of the host points at the first request that failed in the run, so the
    // rows of one outage name one URL (and group into one line).
    if (e.outage) {
      h.firstFailedUrl ??= e.outage.url;
      e.outage = { ...e.outage, url: h.firstFailedUrl };
    }
    if (h.open || counted.has(name)) return;
    counted.add(name);
    if (++h.failures < o.limit) return;
    h.openedAt = Date.now();
    const cause = e.outage?.cause ?? e.message.replace(/\.$/, '');
    // Under `serve` the breaker half-opens again: say for how long requests are not sent.
    const forNow = o.coolDownMs !== undefined ? `; its requests for the next ${Math.ceil(o.coolDownMs / 1000)} s fail without being sent` : '';
    h.open = httpError(e.code as HttpErrorCode, `${name} failed ${h.failures} times in a row (${cause})${forNow}.`, {
      cause: e,
      hint: e.hint,
      outage: e.outage ?? { host: name, cause, url: h.firstFailedUrl ?? '' },
    });
  }

  const opened = () => [...hosts].filter(([, h]) => h.open).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    layer: (next) => async (req, consume) => {
      gate(req.url);
      try {
        const value = await next(req, consume);
        note(req.url.host, undefined, req.counted);
        return value;
      } catch (e) {
        // Refused before it was sent (the deadline): says nothing about the host.
        if (!(e instanceof HttpError && e.notSent)) note(req.url.host, e, req.counted);
        throw e;
      }
    },
    openHosts: () => opened().map(([name]) => name),
    cutOff: () =>
      opened().map(([name, h]) => ({
        host: name,
        message: `${h.open!.message.replace(/\.$/, '')}, first at ${h.open!.outage!.url}; its other requests in this run were not sent.`,
        hint: h.open!.hint,
        outage: h.open!.outage!,
      })),
  };
}

export interface Deadline {
  layer: Layer;
  /** The deadline's description when it stopped at least one request. */
  hit(): string | undefined;
}

/**
 * The attempt's time limit (`totalTimeoutMs` from its slot to its last body byte, redirects
 * included) and the run's deadline (epoch ms): past it no request is sent, and running ones
 * fail, so that no stall is unbounded.
 */
export function deadline(o: { totalTimeoutMs: number; deadline?: number; label?: string }): Deadline {
  let hit = false;
  const label = o.label ?? 'deadline';
  const passed = (url: string, notSent: boolean): HttpError => {
    hit = true;
    return httpError('HTTP_TIMEOUT', `${url} was not fetched: the run's deadline (${label}) passed.`, {
      hint: 'The channel is too slow for the deadline; raise it (deadline_ms or --deadline SECONDS) or try again later.',
      notSent,
    });
  };
  return {
    layer: (next) => async (req, consume) => {
      if (o.deadline !== undefined && Date.now() >= o.deadline) throw passed(req.url.href, true);
      const ms = req.totalTimeoutMs ?? o.totalTimeoutMs;
      const until = Math.min((req.startedAt ?? Date.now()) + ms, o.deadline ?? Infinity);
      const byDeadline = o.deadline !== undefined && until === o.deadline;
      // --timeout is offered only for a transfer that was under way (a slow server), never for
      // one that never answered (a dead host: a longer wait only delays the same failure).
      const timeUp = (answered: boolean) =>
        byDeadline
          ? passed(req.url.href, false)
          : answered
            ? httpError('HTTP_TIMEOUT', `${req.url.href} did not complete within ${ms} ms (it was still sending).`, {
                hint: 'The server is slow: raise http.timeout_ms (--timeout SECONDS) if the file is large, or try again later.',
              })
            : httpError('HTTP_TIMEOUT', `${req.url.href} did not answer within ${ms} ms.`);
      return next({ ...req, until, timeUp }, consume);
    },
    hit: () => (hit ? label : undefined),
  };
}
