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

/** Longest JSON string accepted in repodata (real values: package names, depends, licenses). */
export const MAX_REPODATA_STRING = 1 << 20;
/** Longest run of number/literal bytes accepted in repodata. */
const MAX_REPODATA_ATOM = 1024;

/**
 * `repodata.json.zst` → compact JSON bytes, decoded as a stream. Whitespace outside strings
 * is insignificant (RFC 8259 §2) and is dropped as it arrives, so a bomb of whitespace (or
 * anything that decodes to mostly whitespace) never occupies memory; a string or number
 * longer than any real repodata value stops decoding at once (REPODATA_MALFORMED), and so
 * does a first byte that cannot start a JSON object. The decoded size is capped at
 * `maxBytes` as before (REPODATA_UNAVAILABLE, details.tooLarge).
 */
export async function decompressRepodataZstd(buf: Uint8Array, maxBytes: number, where: string): Promise<Buffer> {
  const malformed = (why: string): RepodataError =>
    new RepodataError('REPODATA_MALFORMED', `${where} is not valid repodata JSON (${why}).`, {
      hint: 'The channel served a broken (or hostile) compressed repodata file; try again later or report it to the channel.',
    });
  const z = zlib.createZstdDecompress();
  z.end(buf);
  const parts: Buffer[] = [];
  let kept = 0;
  let decoded = 0;
  let inString = false;
  let escape = false;
  let run = 0; // bytes of the current string or atom
  let started = false;
  try {
    for await (const chunk of z as AsyncIterable<Buffer>) {
      decoded += chunk.length;
      if (decoded > maxBytes) {
        throw new RepodataError('REPODATA_UNAVAILABLE', `${where} decompresses to more than the ${maxBytes}-byte cap.`, {
          hint: 'The file is far larger than repodata should be (possibly a zstd bomb); report it to the channel.',
          details: { tooLarge: true, maxBytes },
        });
      }
      const out = Buffer.allocUnsafe(chunk.length);
      let o = 0;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (inString) {
          out[o++] = b;
          if (++run > MAX_REPODATA_STRING) throw malformed(`a string longer than ${MAX_REPODATA_STRING} bytes`);
          if (escape) escape = false;
          else if (b === 0x5c) escape = true;
          else if (b === 0x22) inString = false;
          continue;
        }
        if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
        if (!started) {
          started = true;
          if (b !== 0x7b) throw malformed('it does not start with a JSON object');
        }
        out[o++] = b;
        if (b === 0x22) {
          inString = true;
          run = 0;
        } else if (b === 0x7b || b === 0x7d || b === 0x5b || b === 0x5d || b === 0x3a || b === 0x2c) run = 0;
        else if (++run > MAX_REPODATA_ATOM) throw malformed(`a number or literal longer than ${MAX_REPODATA_ATOM} bytes`);
      }
      if (o > 0) {
        parts.push(Buffer.from(out.subarray(0, o)));
        kept += o;
      }
    }
  } catch (e) {
    z.destroy();
    if (e instanceof RepodataError) throw e;
    throw new RepodataError('REPODATA_MALFORMED', `${where} is not valid zstd data (${(e as Error).message}).`, {
      hint: 'The channel served a broken compressed file; try again later or report it to the channel.',
      cause: e,
    });
  }
  return Buffer.concat(parts, kept);
}
