// Which document answers for a (channel, subdir), in this order of preference:
//
//   1. CEP 16 sharded repodata: `<subdir>/repodata_shards.msgpack.zst` (./shard-store.ts);
//   2. `<subdir>/repodata.json.zst`;
//   3. `<subdir>/repodata.json` (2 and 3: ./record-list.ts).
//
// An optional format counts as absent only when it is not published (`notPublished`,
// src/errors.ts: 404, or the 403/410 object stores answer for a missing key); every other
// failure is reported, because then we cannot tell what is advertised (CEP 50: a retrieval
// failure, never "none"). The three are equally authoritative (same channel), so falling
// back is never a downgrade an attacker could exploit. repodata.json itself is missing only
// on 404 (`isRepodataMissing`): a 403 there is usually a channel that wants credentials.
//
// Once per run: each (channel, subdir) resolves its source once — concurrent callers share
// one in-flight promise and a failure is remembered for the run. Which source answered is
// remembered on disk for `probeTtlMs`, so a warm run goes straight to it. When the channel
// cannot be reached, what an earlier run cached answers, reported as StaleRepodata.
import { couldNotFetch, HttpError, outageOf, RepodataError } from '../errors.ts';
import { ChannelUrl } from '../util/channel-url.ts';
import { isRepodataMissing } from './repodata-index.ts';
import { CACHE_FORMAT, type RepodataDisk } from './disk.ts';
import type { FullSource } from './record-list.ts';
import type { StaleRepodata } from './repodata.ts';
import type { ShardedSource } from './shard-store.ts';

/** Where a subdir's records came from. */
export type RepodataSource = 'shards' | 'zst' | 'json';
export type Source = FullSource | ShardedSource;

/** A probe for an optional format found nothing: try the next source. */
export class Absent {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/** `<channel>/<subdir>`, the key of everything per subdir. */
export const subdirUrl = (channel: string, subdir: string): string => ChannelUrl.join(channel, subdir);

const DOCUMENTS: Record<RepodataSource, string> = { shards: 'repodata_shards.msgpack.zst', zst: 'repodata.json.zst', json: 'repodata.json' };

/** The URL of a source's document. */
export const sourceUrl = (channel: string, subdir: string, s: RepodataSource): string => ChannelUrl.join(channel, subdir, DOCUMENTS[s]);

/** REPODATA_UNAVAILABLE for a document that could not be fetched (offline mode keeps its own code). */
export function unavailable(url: string, e: unknown): RepodataError | HttpError {
  if (e instanceof RepodataError) return e;
  // Offline mode sent nothing: the row says so with its own code, not as a channel failure.
  if (e instanceof HttpError && e.code === 'HTTP_OFFLINE') return e;
  const status = e instanceof HttpError ? e.status : undefined;
  return new RepodataError('REPODATA_UNAVAILABLE', couldNotFetch(url, e), {
    hint: 'Check the channel URL and the network; without repodata the advertised attestations cannot be known.',
    cause: e,
    details: status === undefined ? undefined : { status },
  });
}

/**
 * The channel could not be reached (connection failure, stall, timeout, 5xx, 408/429, or
 * offline mode): then cached repodata may answer. Sound because the cache holds what the channel served
 * earlier, sidecars are content-addressed (CEP 50 attestations_sha256) and every bundle is
 * still verified against the package digest; a 404 or a malformed answer is not an outage.
 */
function unreachable(e: unknown): boolean {
  if (!(e instanceof HttpError)) return false;
  if (e.code === 'HTTP_CONNECTION_FAILED' || e.code === 'HTTP_TIMEOUT' || e.code === 'HTTP_OFFLINE') return true;
  return e.code === 'HTTP_STATUS' && e.status !== undefined && (e.status >= 500 || e.status === 408 || e.status === 429);
}

interface SourceMemo {
  format: number;
  key: string;
  source: RepodataSource;
  at: number;
}

export interface SourcesOptions {
  preference: RepodataSource[];
  probeTtlMs: number;
  disk: RepodataDisk;
  now: () => number;
  /** Fetch (or revalidate) one source's document; Absent when it is not published. */
  load(channel: string, subdir: string, s: RepodataSource): Promise<Source | Absent>;
  /** One source's cached copy, without any request, and its age. */
  cached(channel: string, subdir: string, s: RepodataSource): Promise<{ source: Source; ageMs: number } | undefined>;
}

export function openSources(o: SourcesOptions) {
  const inFlight = new Map<string, Promise<Source>>();
  const resolved = new Map<string, RepodataSource>();
  const stale: StaleRepodata[] = [];

  /** The cached copy of any source (`first` first) when the channel cannot be reached. */
  async function fromCache(channel: string, subdir: string, order: RepodataSource[], first: RepodataSource, cause: unknown): Promise<Source | undefined> {
    for (const c of [first, ...order.filter((s) => s !== first)]) {
      const hit = await o.cached(channel, subdir, c);
      if (!hit) continue;
      resolved.set(subdirUrl(channel, subdir), c);
      stale.push({ channel: ChannelUrl.of(channel), subdir, url: hit.source.url, ageMs: hit.ageMs, cause: outageOf(cause)?.cause ?? (cause as Error).message });
      return hit.source;
    }
    return undefined;
  }

  async function resolve(channel: string, subdir: string): Promise<Source> {
    const key = subdirUrl(channel, subdir);
    const memoPath = o.disk.path(key, '.source.json');
    const memo = await o.disk.readJson<SourceMemo>(memoPath, (m) => m.format === CACHE_FORMAT && m.key === key && o.preference.includes(m.source) && typeof m.at === 'number');
    const age = memo ? o.now() - memo.at : -1;
    const fresh = memo && age >= 0 && age < o.probeTtlMs ? memo : undefined;
    // The source that answered last time first (when recent), then the rest in order of preference.
    const order = fresh ? [fresh.source, ...o.preference.filter((s) => s !== fresh.source)] : o.preference;
    let jsonError: unknown;
    for (const s of order) {
      let r: Source | Absent;
      try {
        r = await o.load(channel, subdir, s);
      } catch (e) {
        // repodata.json itself is absent: keep going only if an optional format remains.
        if (s === 'json' && isRepodataMissing(e)) {
          jsonError = e;
          continue;
        }
        const cause = e instanceof RepodataError ? e.cause : e;
        const cached = unreachable(cause) ? await fromCache(channel, subdir, order, s, cause) : undefined;
        if (cached) return cached;
        throw e;
      }
      if (r instanceof Absent) continue;
      const source: RepodataSource = r.kind === 'sharded' ? 'shards' : r.from;
      resolved.set(key, source);
      if (fresh?.source !== source) await o.disk.write(memoPath, JSON.stringify({ format: CACHE_FORMAT, key, source, at: o.now() } satisfies SourceMemo));
      return r;
    }
    throw jsonError;
  }

  return {
    /** The source of (channel, subdir), resolved once per run. */
    of(channel: string, subdir: string): Promise<Source> {
      const key = subdirUrl(channel, subdir);
      let p = inFlight.get(key);
      if (!p) inFlight.set(key, (p = resolve(channel, subdir)));
      return p;
    },
    sourceOf: (channel: string, subdir: string) => resolved.get(subdirUrl(channel, subdir)),
    stale: () => [...stale],
  };
}
