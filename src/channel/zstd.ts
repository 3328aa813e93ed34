// zstd decompression for `repodata.json.zst` and CEP 16 shard files, with a cap on the
// DECOMPRESSED size: a few KB of zstd can expand to gigabytes (a "zstd bomb"), so the
// cap is enforced by zlib while it decompresses (`maxOutputLength`), never after the
// fact. Runs on the libuv thread pool, so a large repodata.json.zst does not block the
// event loop. Node ≥ 22.15 has zstd in `node:zlib`.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { RepodataError } from '../errors.ts';

const zstdDecompress = promisify(zlib.zstdDecompress) as (buf: Uint8Array, opts: zlib.ZstdOptions) => Promise<Buffer>;

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
