// A sidecar given directly (`--sigs PATH_OR_URL`), read from disk or fetched: the Node
// host's adapter (src/pipeline.ts); discovery itself is ./fetch.ts.
import { createReadStream } from 'node:fs';
import { SidecarError } from '../errors.ts';
import type { HttpClient } from '../http/client.ts';
import { type SidecarResult, sidecarFailure } from './fetch.ts';
import { parseSidecar } from './parse.ts';

/**
 * `--sigs PATH_OR_URL`: a sidecar given directly. Accepts a JSON array of bundles or one
 * bundle object. Throws SidecarError (the CLI reports it as an input error).
 */
export async function loadGivenSidecar(
  pathOrUrl: string,
  opts: { maxBytes: number; http?: HttpClient },
): Promise<Extract<SidecarResult, { state: 'found' }>> {
  const { maxBytes, http } = opts;
  let bytes: Buffer;
  if (/^https?:\/\//i.test(pathOrUrl)) {
    if (!http) throw new SidecarError('SIDECAR_UNAVAILABLE', `${pathOrUrl} is a URL but no HTTP client is available.`);
    try {
      bytes = (await http.get(pathOrUrl, { maxBytes })).body;
    } catch (e) {
      throw sidecarFailure(e, pathOrUrl);
    }
  } else {
    try {
      // Read at most maxBytes + 1 bytes: enough to know it is too large, never more.
      const chunks: Buffer[] = [];
      for await (const c of createReadStream(pathOrUrl, { end: maxBytes })) chunks.push(c as Buffer);
      bytes = Buffer.concat(chunks);
    } catch (e) {
      throw new SidecarError('SIDECAR_UNAVAILABLE', `${pathOrUrl} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}).`, {
        hint: 'Check the --sigs path.',
        cause: e,
      });
    }
    if (bytes.length > maxBytes) {
      throw new SidecarError('SIDECAR_TOO_LARGE', `${pathOrUrl} is larger than the ${maxBytes}-byte cap.`, {
        hint: 'Raise max_sidecar_bytes if this file is really a sidecar.',
      });
    }
  }
  const parsed = parseSidecar(bytes, pathOrUrl, { allowSingleBundle: true });
  return { state: 'found', url: pathOrUrl, method: 'given', sha256: parsed.sha256, bundles: parsed.bundles };
}
