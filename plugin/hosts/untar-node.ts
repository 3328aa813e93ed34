// An `IUnpackJSAPI` (@emscripten-forge/untarjs) for Node.
//
// Why: mambajs-core takes an `untarjs` object from its caller, but the published untarjs is
// built for bundlers (extensionless imports, an ESM import of a .wasm file) and Node cannot
// load it as is (docs/plugin.md "mambajs"). This one is built on the product's archive reader
// (src/archive/reader.ts: Node's own zlib, zip and tar readers, pure-JS bzip2). Browsers
// keep the real untarjs.
//
// Archives are untrusted input: paths that escape the target (`..`, absolute paths, drive
// letters) are rejected, not skipped, and every decompression is capped.
import { DEFAULT_MAX_OUTPUT, extractArchive, type FilesData } from '../../src/archive/reader.ts';
import type { DownloadFn } from '../contract.ts';
import { fetchDownload } from './download.ts';

export {
  ArchiveError,
  RAW_ENTRY_NAME,
  bufferSource,
  extractArchive,
  readTar,
  readZip,
  safeEntryPath,
  zipEntries,
  zipMember,
  type ByteSource,
  type ExtractOptions,
  type FilesData,
  type ReadTarOptions,
  type ZipEntry,
} from '../../src/archive/reader.ts';

/** Structurally the `IUnpackJSAPI` of @emscripten-forge/untarjs. */
export interface UntarApi {
  /** Extract an archive (zip, tar, tar.zst, tar.bz2, tar.gz); with `decompressionOnly`, only decompress. */
  extractData: (data: Uint8Array, decompressionOnly?: boolean) => Promise<FilesData>;
  /** Download then `extractData(bytes, !isArchive(url))`, like untarjs. */
  extract: (url: string) => Promise<FilesData>;
}

export interface NodeUntarOptions {
  /** Ceiling on the decompressed size of one archive or stream (default 1 GiB). */
  maxOutputBytes?: number;
  /** Download step used by `extract(url)` (default: global fetch, hashed while streaming). */
  download?: DownloadFn;
}

/** Build an untarjs-compatible object for Node. */
export function createNodeUntar(options: NodeUntarOptions = {}): UntarApi {
  const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const download = options.download ?? fetchDownload();
  const extractData = async (data: Uint8Array, decompressionOnly = false): Promise<FilesData> =>
    extractArchive(data, { decompressionOnly, maxOutputBytes: max });
  return {
    extractData,
    async extract(url: string): Promise<FilesData> {
      const filename = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
      const { bytes } = await download({
        record: { url, filename, channel: '', subdir: '', name: '', version: '', build: '' },
      });
      return extractData(bytes, !isArchiveUrl(url));
    },
  };
}

/** The extensions untarjs treats as archives (others are only decompressed). */
function isArchiveUrl(url: string): boolean {
  const lower = url.toLowerCase();
  return ['.conda', 'tar.bz2', 'tar.gz', '.zip'].some((ext) => lower.endsWith(ext));
}

