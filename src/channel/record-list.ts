// repodata.json(.zst): scanned as it streams in (zstd decoded on the way,
// ./repodata-index.ts), keeping in memory only the records of the files this run looks up
// (`want`, and lookups made before the download starts); every record goes to the record
// list on disk (./records-file.ts), from which any later lookup is answered. So peak
// memory does not grow with the document: a 200 MB repodata.json, or a bomb of valid
// records up to the decode cap, costs the same as a small one. Without a disk cache every
// record is kept (compact).
//
// On disk: `<key>.records` every record of one download, `<key>.meta.json` its ETag /
// Last-Modified and the download's `id` (named in both files).
import { mkdir, unlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { CacheValidators } from '../http/client.ts';
import { notPublished } from '../errors.ts';
import { emptyIndex, RepodataScanner, sectionOf, type RepodataIndex } from './repodata-index.ts';
import { indexRecords, openRecordsWriter, readRecords, readRecordsAt, RECORDS_FORMAT, type RecordOffsets } from './records-file.ts';
import type { StoreContext } from './repodata.ts';
import { Absent, sourceUrl, subdirUrl, unavailable } from './sources.ts';
import { zstdChunks } from './zstd.ts';

/** `<key>.meta.json`: validators of the record list `<key>.records` of one download, which `id` names in both files. */
interface MetaFile {
  format: number;
  url: string;
  id: string;
  validators: CacheValidators;
}

/** A repodata.json(.zst): the records kept in memory, and where the others can be read. */
export interface FullSource {
  kind: 'full';
  from: 'zst' | 'json';
  url: string;
  index: RepodataIndex;
  /** Filenames whose lookups `index` answers (present or not); undefined: every record is kept. */
  covered?: Set<string>;
  /** The complete record list on disk, when it was written. */
  records?: { path: string; url: string; id: string };
  /** Lookups not covered, waiting for the next read of the record list. */
  missing: Set<string>;
  refill?: Promise<void>;
  /** Where each record of `records` is, from the first read after a miss (see indexRecords). */
  offsets?: Promise<RecordOffsets | undefined>;
}

const metaOk = (url: string) => (m: MetaFile): boolean =>
  m.format === RECORDS_FORMAT && m.url === url && typeof m.id === 'string' && typeof m.validators === 'object' && m.validators !== null;

/** The record lists of a run's repodata.json(.zst) documents. */
export class RecordLists {
  readonly #ctx: StoreContext;
  /** Per (channel, subdir): the files this run looks up. */
  readonly #wanted = new Map<string, Set<string>>();

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  #wantedOf(channel: string, subdir: string): Set<string> {
    const key = subdirUrl(channel, subdir);
    return this.#wanted.get(key) ?? this.#wanted.set(key, new Set()).get(key)!;
  }

  /**
   * Which records a read of (channel, subdir) keeps: the files wanted so far. Without a disk
   * cache there is no record list to come back to, so every record is kept (compact).
   */
  #keep(channel: string, subdir: string): Set<string> | undefined {
    return this.#ctx.disk.enabled ? new Set(this.#wantedOf(channel, subdir)) : undefined;
  }

  /** This run will look up `filename` in (channel, subdir). */
  want(channel: string, subdir: string, filename: string): void {
    this.#wantedOf(channel, subdir).add(filename);
  }

  /**
   * One download, scanned as it streams in: the records of `keep` (all when undefined) are
   * kept, every record goes to the record list on disk.
   */
  async #scan(body: AsyncIterable<Buffer>, from: 'zst' | 'json', url: string, keep: Set<string> | undefined, recordsPath: string | undefined, id: string) {
    const { stats } = this.#ctx;
    const index = emptyIndex();
    if (recordsPath) await mkdir(join(recordsPath, '..'), { recursive: true }).catch(() => {});
    const writer = recordsPath ? await openRecordsWriter(recordsPath, { url, id }) : undefined;
    const scanner = new RepodataScanner(url, (section, filename, entry) => {
      writer?.add(section, filename, entry);
      if (!keep || (keep.has(filename) && sectionOf(filename) === section)) index[section].set(filename, entry);
    });
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const c of body) {
        stats.bytes += c.length;
        yield c;
      }
    }
    try {
      for await (const chunk of from === 'zst' ? zstdChunks(counted(), this.#ctx.maxBytes, url) : counted()) {
        scanner.push(chunk);
        if (writer) await writer.drain();
      }
      scanner.end();
    } catch (e) {
      await writer?.abort();
      throw e;
    }
    return { index, written: writer ? await writer.commit() : false };
  }

  /**
   * repodata.json or repodata.json.zst → the records wanted (see #keep), revalidated
   * against the disk cache's validators. `fresh`: ignore the disk cache (it was unreadable).
   */
  async load(channel: string, subdir: string, from: 'zst' | 'json', fresh = false): Promise<FullSource | Absent> {
    const { disk, stats, http, maxBytes } = this.#ctx;
    const url = sourceUrl(channel, subdir, from);
    const metaPath = disk.path(url, '.meta.json');
    const recordsPath = disk.path(url, '.records');
    // A cache of another format or for another URL (hash collision) is ignored, not trusted.
    const meta = fresh ? undefined : await disk.readJson<MetaFile>(metaPath, metaOk(url));
    stats.fetches++;
    const id = randomUUID();
    let res;
    let names: Set<string> | undefined;
    try {
      res = await http.getCachedStream(url, meta?.validators, { maxBytes }, (body) => this.#scan(body, from, url, (names = this.#keep(channel, subdir)), recordsPath, id));
    } catch (e) {
      if (from === 'zst' && notPublished(e)) return new Absent(e);
      throw unavailable(url, e);
    }
    const full = (index: RepodataIndex, records: FullSource['records']): FullSource => ({ kind: 'full', from, url, index, covered: names, records, missing: new Set() });
    if (res.notModified) {
      stats.notModified++;
      names = this.#keep(channel, subdir);
      const index = meta && recordsPath ? await readRecords(recordsPath, meta, names ?? []) : undefined;
      // Our own cached copy is unreadable: fetch the document again, once.
      if (!index || !meta || !recordsPath) return this.load(channel, subdir, from, true);
      if (res.validators.expiresAt !== meta.validators.expiresAt) await disk.write(metaPath, JSON.stringify({ ...meta, validators: res.validators }));
      return full(index, { path: recordsPath, url, id: meta.id });
    }
    const { index, written } = res.value;
    if (written && recordsPath) {
      await disk.write(metaPath, JSON.stringify({ format: RECORDS_FORMAT, url, id, validators: res.validators } satisfies MetaFile));
      // The single-file cache of earlier versions (the whole index as one JSON document).
      const legacy = disk.path(url, '.json');
      if (legacy) await unlink(legacy).catch(() => {});
    }
    return full(index, written && recordsPath ? { path: recordsPath, url, id } : undefined);
  }

  /**
   * Lookups of files the source's records were not read for: read them from the record
   * list on disk (or, when it cannot be read, download the document again), in one pass
   * for every lookup made meanwhile.
   */
  async cover(src: FullSource, channel: string, subdir: string, filename: string): Promise<void> {
    while (src.covered && !src.covered.has(filename)) {
      src.missing.add(filename);
      src.refill ??= this.#refill(src, channel, subdir).finally(() => (src.refill = undefined));
      await src.refill;
    }
  }

  async #refill(src: FullSource, channel: string, subdir: string): Promise<void> {
    await new Promise((r) => setImmediate(r));
    const names = new Set(src.missing);
    src.missing.clear();
    for (const n of names) this.want(channel, subdir, n);
    // The first miss reads the whole list once and keeps where each record is; every later
    // miss (a plugin host asks package by package) is then one positioned read per record.
    let found: RepodataIndex | undefined;
    if (src.records) {
      const records = src.records;
      src.offsets ??= (this.#ctx.stats.recordListScans++, indexRecords(records.path, records));
      const offsets = await src.offsets;
      found = offsets ? await readRecordsAt(records.path, offsets, names) : undefined;
      if (!found) src.offsets = undefined;
    }
    if (!found) {
      const again = await this.load(channel, subdir, src.from, true);
      if (again instanceof Absent) throw unavailable(src.url, again.error);
      found = again.index;
      src.records = again.records;
      src.offsets = undefined;
    }
    for (const section of ['tarBz2', 'conda'] as const) for (const [f, e] of found[section]) src.index[section].set(f, e);
    for (const n of names) src.covered!.add(n);
  }

  /** The cached record list, without any request; its age is that of the download. */
  async cached(channel: string, subdir: string, from: 'zst' | 'json'): Promise<{ source: FullSource; ageMs: number } | undefined> {
    const { disk } = this.#ctx;
    const url = sourceUrl(channel, subdir, from);
    const path = disk.path(url, '.records');
    if (!path) return undefined;
    const ageMs = await disk.ageMs(path);
    const meta = ageMs === undefined ? undefined : await disk.readJson<MetaFile>(disk.path(url, '.meta.json'), metaOk(url));
    if (ageMs === undefined || !meta) return undefined;
    const names = this.#keep(channel, subdir);
    const index = await readRecords(path, meta, names ?? []);
    return index ? { source: { kind: 'full', from, url, index, covered: names, records: { path, url, id: meta.id }, missing: new Set() }, ageMs } : undefined;
  }
}
