// zstd decompression for `repodata.json.zst` and CEP 16 shard files, with a cap on the
// DECOMPRESSED size: a few KB of zstd can expand to gigabytes (a "zstd bomb"), so the
// cap is enforced by zlib while it decompresses (`maxOutputLength`), never after the
// fact. Runs on the libuv thread pool, so a large repodata.json.zst does not block the
// event loop; repodata.json.zst is decoded as a stream (`zstdChunks`), whole documents
// only for shards. Node ≥ 22.15 has zstd in `node:zlib`.
import { pipeline, Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type { ZstdOptions } from 'node:zlib';
import { RepodataError } from '../errors.ts';

// node:zlib on first use (a run answered from the caches decompresses nothing), through
// require: an ESM import of node:util or node:zlib materialises every export of the module.
const zlib = (): typeof import('node:zlib') => createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib');
const zstdDecompress = (buf: Uint8Array, opts: ZstdOptions): Promise<Buffer> =>
  new Promise((res, rej) => zlib().zstdDecompress(buf, opts, (e, out) => (e ? rej(e) : res(out))));

/**
 * Decompress one zstd document of at most `maxBytes` decompressed bytes.
 * Throws RepodataError: REPODATA_UNAVAILABLE (details.tooLarge) when it would exceed the
 * cap, REPODATA_MALFORMED when the bytes are not valid zstd.
 */
export async function decompressZstd(buf: Uint8Array, maxBytes: number, where: string): Promise<Buffer> {
  try {
    return await zstdDecompress(buf, { maxOutputLength: maxBytes });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new RepodataError('REPODATA_UNAVAILABLE', `${where} decompresses to more than the ${maxBytes}-byte cap.`, {
        hint: 'The file is far larger than repodata should be (possibly a zstd bomb); report it to the channel.',
        cause: e,
        details: { tooLarge: true, maxBytes },
      });
    }
    throw new RepodataError('REPODATA_MALFORMED', `${where} is not valid zstd data (${(e as Error).message}).`, {
      hint: 'The channel served a broken compressed file; try again later or report it to the channel.',
      cause: e,
    });
  }
}

/**
 * A zstd stream (`repodata.json.zst` as it arrives) → its decoded chunks, with the decoded
 * size capped at `maxBytes` while it decodes (REPODATA_UNAVAILABLE, details.tooLarge): the
 * consumer scans each chunk and lets it go, so a bomb never occupies more than one chunk.
 * Bytes that are not zstd are REPODATA_MALFORMED; errors of the source (the connection)
 * pass through unchanged so the HTTP client can tell them apart and retry.
 */
export async function* zstdChunks(source: AsyncIterable<Uint8Array>, maxBytes: number, where: string): AsyncGenerator<Buffer> {
  let sourceError: unknown;
  async function* tap(): AsyncGenerator<Uint8Array> {
    try {
      yield* source;
    } catch (e) {
      sourceError = e;
      throw e;
    }
  }
  const z = zlib().createZstdDecompress();
  // Back-pressure both ways: the source is read only as fast as decoded chunks are consumed.
  const decoded = pipeline(Readable.from(tap(), { objectMode: false }), z, () => {});
  let size = 0;
  try {
    for await (const chunk of decoded as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        throw new RepodataError('REPODATA_UNAVAILABLE', `${where} decompresses to more than the ${maxBytes}-byte cap.`, {
          hint: 'The file is far larger than repodata should be (possibly a zstd bomb); report it to the channel.',
          details: { tooLarge: true, maxBytes },
        });
      }
      yield chunk;
    }
  } catch (e) {
    if (e instanceof RepodataError || (sourceError !== undefined && e === sourceError)) throw e;
    throw new RepodataError('REPODATA_MALFORMED', `${where} is not valid zstd data (${(e as Error).message}).`, {
      hint: 'The channel served a broken compressed file; try again later or report it to the channel.',
      cause: e,
    });
  } finally {
    z.destroy();
  }
}
