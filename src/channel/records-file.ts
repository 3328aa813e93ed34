// The disk cache of one repodata document: every package record in compact form (the
// fields RawRepodataEntry keeps), one per line, written while the document streams in and
// read back the same way — keeping only the filenames asked for. A run never holds the
// records it does not need, whether they come from the channel or from this file.
//
//   line 1      {"format":2,"url":…,"id":…}          the document and the download it is of
//   each record <c|p> TAB <filename as JSON> TAB <compact record as JSON>
//   last line   #end TAB <number of records>
//
// JSON-encoded filenames never contain a raw TAB or newline, so a line is split without
// parsing; only the lines asked for are parsed. A file without its last line (a crash, a
// full disk), of another format or of another download (`id`, also named by the
// validators file next to it) is not used.
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { openAtomicFile, type AtomicFile } from '../store/atomic.ts';
import { StringDecoder } from 'node:string_decoder';
import { emptyIndex, sectionOf, type RawRepodataEntry, type RepodataIndex, type RepodataSection } from './repodata-index.ts';

export const RECORDS_FORMAT = 2;

const TAG: Record<RepodataSection, string> = { conda: 'c', tarBz2: 'p' };
const FLUSH_AT = 1 << 18;

interface RecordsWriter {
  add(section: RepodataSection, filename: string, entry: RawRepodataEntry): void;
  /** Write what is buffered once it is large enough (call between chunks: back-pressure). */
  drain(): Promise<void>;
  /** Finish and move into place; false when the file could not be written (the cache is best effort). */
  commit(): Promise<boolean>;
  /** Drop the partial file. */
  abort(): Promise<void>;
}

/** A writer for `path` (through a temporary file), or undefined when it cannot be created. */
export async function openRecordsWriter(path: string, header: { url: string; id: string }): Promise<RecordsWriter | undefined> {
  // Not fsynced: a record list lost to a power cut is downloaded again.
  let out: AtomicFile;
  try {
    out = await openAtomicFile(path, { durable: false, followLinks: false });
  } catch {
    return undefined;
  }
  let fh: FileHandle | undefined = out.file;
  let buf = `${JSON.stringify({ format: RECORDS_FORMAT, url: header.url, id: header.id })}\n`;
  let count = 0;
  let broken = false;
  const flush = async (): Promise<void> => {
    if (broken || !fh || buf.length === 0) return;
    const text = buf;
    buf = '';
    try {
      await fh.write(text);
    } catch {
      broken = true;
    }
  };
  const drop = async (): Promise<void> => {
    fh = undefined;
    await out.abort();
  };
  return {
    add(section, filename, entry) {
      if (broken) return;
      buf += `${TAG[section]}\t${JSON.stringify(filename)}\t${JSON.stringify(entry)}\n`;
      count++;
    },
    async drain() {
      if (buf.length >= FLUSH_AT) await flush();
    },
    async commit() {
      buf += `#end\t${count}\n`;
      await flush();
      if (broken) {
        await drop();
        return false;
      }
      fh = undefined;
      try {
        await out.commit();
        return true;
      } catch {
        return false;
      }
    },
    abort: drop,
  };
}

/** True when a record list's first line says it is of this format and of this download. */
function headerMatches(line: string, expect: { url: string; id: string }): boolean {
  try {
    const h = JSON.parse(line) as { format?: unknown; url?: unknown; id?: unknown };
    return h.format === RECORDS_FORMAT && h.url === expect.url && h.id === expect.id;
  } catch {
    return false;
  }
}

/**
 * The records of `filenames` (each from the section its lookup reads) in the file at
 * `path`, or undefined when the file is missing, incomplete or not of this download.
 */
export async function readRecords(path: string, expect: { url: string; id: string }, filenames: Iterable<string>): Promise<RepodataIndex | undefined> {
  const wanted = new Set<string>();
  for (const f of filenames) wanted.add(`${TAG[sectionOf(f)]}\t${JSON.stringify(f)}`);
  const index = emptyIndex();
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let header = true;
  let count = 0;
  let end: number | undefined;
  const line = (text: string): boolean => {
    if (header) {
      header = false;
      return headerMatches(text, expect);
    }
    if (end !== undefined) return false;
    if (text.startsWith('#end\t')) {
      end = Number(text.slice(5));
      return true;
    }
    const tab = text.indexOf('\t', 2);
    if (tab < 0) return false;
    count++;
    const key = text.slice(0, tab);
    if (!wanted.has(key)) return true;
    try {
      const entry = JSON.parse(text.slice(tab + 1)) as RawRepodataEntry;
      if (typeof entry !== 'object' || entry === null) return false;
      index[text[0] === 'c' ? 'conda' : 'tarBz2'].set(JSON.parse(text.slice(2, tab)) as string, entry);
      return true;
    } catch {
      return false;
    }
  };
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      const text = rest + decoder.write(chunk as Buffer);
      let from = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
        if (!line(text.slice(from, nl))) return undefined;
        from = nl + 1;
      }
      rest = text.slice(from);
    }
  } catch {
    return undefined;
  }
  if (rest !== '' || end === undefined || end !== count) return undefined;
  return index;
}

/**
 * Where each record of a record list is: its key (`<c|p> TAB <filename as JSON>`) → the byte
 * range of its line. Built in the one pass a first miss reads the file anyway, so that a run
 * whose lookups arrive one by one (a plugin host downloading package after package, which
 * cannot say up front what it will ask for) reads each later record with one positioned
 * read instead of scanning the whole list again: on a 200 MB channel, a scan costs about a
 * second, an indexed read well under a millisecond; the index holds a key and two numbers
 * per record (tens of MB for 400,000 records, where the document itself would be hundreds).
 */
export type RecordOffsets = ReadonlyMap<string, readonly [start: number, end: number]>;

const NL = 0x0a;
const TAB = 0x09;

/** The offsets of every record in the file, or undefined when it is missing, incomplete or not of this download. */
export async function indexRecords(path: string, expect: { url: string; id: string }): Promise<RecordOffsets | undefined> {
  const offsets = new Map<string, readonly [number, number]>();
  let rest: Buffer | undefined;
  let pos = 0; // file offset of the first byte of `rest` (or of the next chunk)
  let header = true;
  let count = 0;
  let end: number | undefined;
  const line = (buf: Buffer, from: number, to: number, at: number): boolean => {
    if (header) {
      header = false;
      return headerMatches(buf.toString('utf8', from, to), expect);
    }
    if (end !== undefined) return false;
    if (to - from > 5 && buf.toString('latin1', from, from + 5) === '#end\t') {
      end = Number(buf.toString('latin1', from + 5, to));
      return true;
    }
    const tab = buf.indexOf(TAB, from + 2);
    if (tab < 0 || tab >= to) return false;
    count++;
    offsets.set(buf.toString('utf8', from, tab), [at, at + (to - from)]);
    return true;
  };
  try {
    for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) {
      const chunk = rest ? Buffer.concat([rest, c as Buffer]) : (c as Buffer);
      let from = 0;
      for (let nl = chunk.indexOf(NL); nl >= 0; nl = chunk.indexOf(NL, from)) {
        if (!line(chunk, from, nl, pos + from)) return undefined;
        from = nl + 1;
      }
      rest = from < chunk.length ? chunk.subarray(from) : undefined;
      pos += from;
    }
  } catch {
    return undefined;
  }
  if (rest !== undefined || end === undefined || end !== count) return undefined;
  return offsets;
}

/**
 * The records of `filenames` read at their offsets (see indexRecords), or undefined when a
 * line is no longer what the index says (the file was replaced meanwhile): the caller then
 * reads the list, or the document, again.
 */
export async function readRecordsAt(path: string, offsets: RecordOffsets, filenames: Iterable<string>): Promise<RepodataIndex | undefined> {
  const index = emptyIndex();
  let fh: FileHandle | undefined;
  try {
    for (const f of filenames) {
      const section = sectionOf(f);
      const key = `${TAG[section]}\t${JSON.stringify(f)}`;
      const at = offsets.get(key);
      if (!at) continue; // not in the document: absent
      fh ??= await open(path, 'r');
      const [start, end] = at;
      const buf = Buffer.allocUnsafe(end - start + 1);
      const { bytesRead } = await fh.read(buf, 0, buf.length, start);
      // The line must still be this record's, newline included.
      if (bytesRead !== buf.length || buf[buf.length - 1] !== NL) return undefined;
      const text = buf.toString('utf8', 0, buf.length - 1);
      if (!text.startsWith(`${key}\t`)) return undefined;
      const entry = JSON.parse(text.slice(key.length + 1)) as RawRepodataEntry;
      if (typeof entry !== 'object' || entry === null) return undefined;
      index[section].set(f, entry);
    }
    return index;
  } catch {
    return undefined;
  } finally {
    await fh?.close().catch(() => {});
  }
}
