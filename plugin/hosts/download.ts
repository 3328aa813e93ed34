// The innermost download step the host adapters use: fetch a package and hash its bytes
// WHILE they stream in (the hook contract: no second pass over the bytes before verification).
import { createHash } from 'node:crypto';
import { HttpError } from '../../src/errors.ts';
import type { DownloadFn, Downloaded } from '../contract.ts';

/** The subset of `fetch` the adapters need. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Default ceiling on a package download when the host does not know its size (2 GiB). */
const DEFAULT_MAX_PACKAGE_BYTES = 2 * 1024 ** 3;

interface ReadHashedOptions {
  /** For error messages. */
  url: string;
  /**
   * Stop reading past this many bytes. When the host knows the package's size, pass it:
   * more bytes than expected can never hash to the expected digest, so reading on is waste.
   */
  maxBytes?: number;
}

/** Read a response body to the end, hashing each chunk as it arrives. */
export async function readHashed(res: Response, options: ReadHashedOptions): Promise<Downloaded> {
  const max = options.maxBytes ?? DEFAULT_MAX_PACKAGE_BYTES;
  const hash = createHash('sha256');
  const declared = Number(res.headers.get('content-length') ?? NaN);
  // Content-Length is only a sizing hint (compressed transfers lie about it); preallocate
  // when it is plausible, fall back to collecting chunks otherwise.
  let buf = Number.isSafeInteger(declared) && declared >= 0 && declared <= max ? new Uint8Array(declared) : null;
  const chunks: Uint8Array[] = [];
  let length = 0;
  const tooLarge = (): HttpError =>
    new HttpError('HTTP_TOO_LARGE', `The package at ${options.url} is larger than ${max} bytes.`, {
      hint: 'The server sent more bytes than the package should have; the download may have been replaced.',
    });
  if (res.body) {
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (length + value.byteLength > max) throw tooLarge();
        hash.update(value);
        if (buf && length + value.byteLength <= buf.byteLength) buf.set(value, length);
        else {
          if (buf) {
            chunks.push(buf.subarray(0, length));
            buf = null;
          }
          chunks.push(value);
        }
        length += value.byteLength;
      }
    } catch (e) {
      await reader.cancel().catch(() => undefined);
      throw e;
    }
  }
  let bytes: Uint8Array;
  if (buf) bytes = length === buf.byteLength ? buf : buf.subarray(0, length);
  else if (chunks.length === 1) bytes = chunks[0];
  else {
    bytes = new Uint8Array(length);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.byteLength;
    }
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Raise the HttpError matching a non-2xx package response. */
export function httpStatusError(res: Response, url: string): HttpError {
  const err = new HttpError(
    res.status === 404 ? 'HTTP_NOT_FOUND' : 'HTTP_STATUS',
    `Downloading ${url} failed with HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}.`,
    { hint: res.status === 404 ? 'Check the channel URL and the package filename.' : 'Retry later or check the server.' },
  );
  err.status = res.status;
  return err;
}

/**
 * The host-side download used by the adapters: GET `record.url` with `fetchFn` and hash
 * while streaming. A size the host knows caps the read.
 */
export function fetchDownload(fetchFn: FetchLike = globalThis.fetch): DownloadFn {
  return async ({ record }) => {
    let res: Response;
    try {
      res = await fetchFn(record.url);
    } catch (e) {
      throw new HttpError('HTTP_CONNECTION_FAILED', `Could not connect to download ${record.url}.`, {
        hint: 'Check the network and the channel URL.',
        cause: e,
      });
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw httpStatusError(res, record.url);
    }
    return readHashed(res, { url: record.url, maxBytes: record.size });
  };
}
