// Channel index documents (repodata.json, .zst, current_repodata.json, the CEP 16 shard
// index, channeldata.json) as the proxy last received them: the raw bytes and the response
// headers that describe them (validators included), on disk under cacheDir/serve/. Clients
// get these bytes unchanged (CEP 50 asks mirrors to serve what the channel serves); the
// copy also answers while the upstream is down, marked stale. One file per document URL,
// so the store is bounded by the number of routes × subdirs.
import { randomUUID } from 'node:crypto';
import { sha256Hex } from '../util/sha256.ts';
import { mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import { openAtomicWrite, writeFileAtomic } from '../store/atomic.ts';

/** Response headers kept with a document and sent with it. */
const KEPT_HEADERS = ['content-type', 'content-encoding', 'etag', 'last-modified', 'cache-control'] as const;

export interface StoredDocument {
  url: string;
  /** The body file. */
  body: string;
  size: number;
  headers: Partial<Record<(typeof KEPT_HEADERS)[number], string>>;
  /** Epoch ms the bytes were received (or last revalidated with a 304). */
  storedAt: number;
  /** Epoch ms until which the upstream's Cache-Control max-age says the copy is fresh. */
  freshUntil?: number;
}

interface IndexStore {
  get(url: string): Promise<StoredDocument | undefined>;
  /** Write a 200 response's body and headers (streamed, atomic). */
  put(url: string, res: IncomingMessage, now: number): Promise<StoredDocument>;
  /** A 304 from upstream: the copy is still good; new validators and freshness kept. */
  revalidated(doc: StoredDocument, res: IncomingMessage, now: number): Promise<StoredDocument>;
}

/** Freshness from Cache-Control (RFC 9111 §5.2.2.1 max-age; no-cache/no-store: none). */
function freshUntil(cacheControl: string | undefined, now: number): number | undefined {
  const cc = (cacheControl ?? '').toLowerCase();
  const m = /(?:^|[,\s])max-age=(\d+)/.exec(cc);
  return m && !/no-store|no-cache/.test(cc) ? now + Number(m[1]) * 1000 : undefined;
}

function keptHeaders(res: IncomingMessage): StoredDocument['headers'] {
  const out: StoredDocument['headers'] = {};
  for (const h of KEPT_HEADERS) {
    const v = res.headers[h];
    if (typeof v === 'string') out[h] = v;
  }
  return out;
}

export function openIndexStore(cacheDir: string): IndexStore {
  const dir = join(cacheDir, 'serve', 'index');
  const key = (url: string): string => sha256Hex(url).slice(0, 32);
  const metaPath = (url: string): string => join(dir, `${key(url)}.json`);

  async function writeMeta(doc: StoredDocument): Promise<void> {
    await writeFileAtomic(metaPath(doc.url), JSON.stringify(doc), { durable: false });
  }

  return {
    async get(url) {
      try {
        const doc = JSON.parse(await readFile(metaPath(url), 'utf8')) as StoredDocument;
        if (doc.url !== url) return undefined;
        // A body that is not the size recorded is not trusted to be the document.
        if ((await stat(doc.body)).size !== doc.size) return undefined;
        return doc;
      } catch {
        return undefined;
      }
    },
    async put(url, res, now) {
      await mkdir(dir, { recursive: true });
      const previous = await this.get(url);
      // A new body file per download: a client still reading the previous one keeps it.
      const body = join(dir, `${key(url)}.${randomUUID().slice(0, 8)}.body`);
      const out = await openAtomicWrite(body, { durable: false });
      let size = 0;
      res.on('data', (c: Buffer) => (size += c.length));
      try {
        await pipeline(res, out.stream);
      } catch (e) {
        await out.abort();
        throw e;
      }
      await out.commit();
      const doc: StoredDocument = { url, body, size, headers: keptHeaders(res), storedAt: now };
      const fresh = freshUntil(doc.headers['cache-control'], now);
      if (fresh !== undefined) doc.freshUntil = fresh;
      await writeMeta(doc);
      if (previous && previous.body !== body) await unlink(previous.body).catch(() => undefined);
      return doc;
    },
    async revalidated(doc, res, now) {
      res.resume();
      const headers = { ...doc.headers };
      for (const h of ['etag', 'last-modified', 'cache-control'] as const) {
        const v = res.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      const next: StoredDocument = { ...doc, headers, storedAt: now };
      const fresh = freshUntil(headers['cache-control'], now);
      if (fresh !== undefined) next.freshUntil = fresh;
      else delete next.freshUntil;
      await writeMeta(next);
      return next;
    },
  };
}

/**
 * Whether a client's conditional request (RFC 9110 §13.1.2 If-None-Match, weak comparison;
 * §13.1.3 If-Modified-Since, only without If-None-Match) is satisfied by these validators.
 */
export function notModified(req: { 'if-none-match'?: string; 'if-modified-since'?: string }, etag: string | undefined, lastModified: string | undefined): boolean {
  const inm = req['if-none-match'];
  if (inm !== undefined) {
    if (!etag) return false;
    const weak = (t: string): string => t.trim().replace(/^W\//, '');
    return inm.trim() === '*' || inm.split(',').some((t) => weak(t) === weak(etag));
  }
  const ims = req['if-modified-since'];
  if (ims === undefined || !lastModified) return false;
  const since = Date.parse(ims);
  const modified = Date.parse(lastModified);
  return Number.isFinite(since) && Number.isFinite(modified) && modified <= since;
}
