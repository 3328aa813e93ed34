// Sidecar discovery and retrieval (CEP 50). Methods are tried in the configured order:
//   repodata  `attestations_sha256` (from the record, else repodata) → `<file>.sigs.<sha256>`
//   sigs      probe `<file>.sigs`
//   v0-sigs   probe `<file>.v0.sigs` (prefix.dev's older convention)
// An ADVERTISED sidecar that is unavailable (404 included), oversized, hash-mismatched or
// malformed is a retrieval failure — never "no attestations" — and discovery stops there:
// a mirror that strips sidecars must not downgrade a package to "missing". Only a probe
// may conclude "nothing here" (404 or `[]`). URLs are built from `record.channel` (the
// place the package is actually fetched from, possibly a mirror). Content-Type is never
// looked at.
import { AttestError, couldNotFetch, HttpError, notPublished, outageOf, SidecarError, type SidecarErrorCode } from '../errors.ts';
import type { RepodataStore } from '../channel/repodata.ts';
import { isRepodataMissing } from '../channel/repodata-index.ts';
import type { Transport } from '../stages/resources.ts';
import type { SidecarCache } from '../cache/sidecar-cache.ts';
import { encodePathSegment } from '../targets/package-url.ts';
import type { DiscoveryMethod, PackageRecord, Reason } from '../types.ts';
import { parseSidecar } from './parse.ts';
import { isSha256Hex } from '../util/sha256.ts';
import { ChannelUrl } from '../util/channel-url.ts';

export type SidecarResult =
  | { state: 'none'; tried: string[] }
  | { state: 'failed'; reasons: Reason[]; url?: string; method: DiscoveryMethod }
  | { state: 'found'; url: string; method: DiscoveryMethod | 'given'; sha256: string; bundles: unknown[]; bytes?: Buffer };

interface SidecarDeps {
  http: Transport;
  repodata: RepodataStore;
  /** Size cap for one sidecar (config `max_sidecar_bytes`). */
  maxBytes: number;
  /** Content-addressed sidecar cache (CEP 50 sidecars are immutable per hash); re-hashed on read. */
  sidecarCache?: SidecarCache;
}

/** `<channel>/<subdir>/<file>` as fetched, with the filename encoded as one path segment. */
function packageBaseUrl(record: PackageRecord): string {
  return ChannelUrl.join(record.channel, record.subdir, encodePathSegment(record.filename));
}

/** Pure: the sidecar URL for a method (`attestationsSha256` already validated for `repodata`). */
export function sidecarUrl(record: PackageRecord, method: DiscoveryMethod, attestationsSha256?: string): string {
  const base = packageBaseUrl(record);
  if (method === 'repodata') return `${base}.sigs.${attestationsSha256}`;
  return method === 'sigs' ? `${base}.sigs` : `${base}.v0.sigs`;
}

function reasonOf(e: unknown, url: string | undefined): Reason {
  if (e instanceof AttestError) {
    const r: Reason = { code: e.code, message: url && !e.message.includes(url) ? `${url}: ${e.message}` : e.message };
    if (e.hint) r.hint = e.hint;
    const outage = outageOf(e);
    if (outage) r.outage = outage;
    return r;
  }
  return { code: 'SIDECAR_UNAVAILABLE', message: `${url ?? 'sidecar'}: ${e instanceof Error ? e.message : String(e)}` };
}

/** Map transport errors on an advertised / probed sidecar to the sidecar's own codes. */
export function sidecarFailure(e: unknown, url: string): SidecarError | AttestError {
  if (!(e instanceof HttpError)) return e instanceof AttestError ? e : new SidecarError('SIDECAR_UNAVAILABLE', `${url} could not be fetched.`, { cause: e });
  // Offline mode sent nothing: the row keeps HTTP_OFFLINE.
  if (e.code === 'HTTP_OFFLINE') return e;
  const code: SidecarErrorCode =
    e.code === 'HTTP_NOT_FOUND' ? 'SIDECAR_NOT_FOUND' : e.code === 'HTTP_TOO_LARGE' ? 'SIDECAR_TOO_LARGE' : 'SIDECAR_UNAVAILABLE';
  const hint =
    code === 'SIDECAR_NOT_FOUND'
      ? 'Repodata advertises attestations but the sidecar is missing (a mirror may strip them); fetch from the canonical channel or report it.'
      : code === 'SIDECAR_TOO_LARGE'
        ? 'Raise max_sidecar_bytes only if the channel really publishes sidecars this large.'
        : e.hint;
  return new SidecarError(code, `Sidecar ${couldNotFetch(url, e)}`, { hint, cause: e });
}

/** What repodata says about a package's sidecar (CEP 50 `attestations_sha256`). */
export type Advertisement =
  | { kind: 'advertised'; sha256: string }
  /** Nothing advertised here (no repodata for the subdir, or no attestations_sha256): try the next method. */
  | { kind: 'absent'; note: string }
  | { kind: 'failed'; reasons: Reason[] };

/**
 * The advertised sidecar hash: the record's own `attestationsSha256` (a host-supplied
 * value gets the same check as one from repodata, before any URL is built), else one
 * repodata lookup. Looked up once per package: the warm path and retrieval share it.
 */
export async function lookupAdvertised(record: PackageRecord, repodata: RepodataStore): Promise<Advertisement> {
  let advertised = record.attestationsSha256;
  if (advertised === undefined) {
    try {
      advertised = (await repodata.lookup(record.channel, record.subdir, record.filename))?.attestationsSha256;
    } catch (e) {
      // No repodata.json at all (404): nothing advertised here, try the next method.
      if (isRepodataMissing(e)) return { kind: 'absent', note: `repodata: no repodata.json for ${record.channel}/${record.subdir}` };
      return { kind: 'failed', reasons: [reasonOf(e, undefined)] };
    }
  } else if (!isSha256Hex(advertised)) {
    return {
      kind: 'failed',
      reasons: [
        {
          code: 'REPODATA_INVALID_ATTESTATIONS_SHA256',
          message: `${record.filename} has the invalid attestations_sha256 ${JSON.stringify(advertised).slice(0, 100)}.`,
          hint: 'attestations_sha256 must be 64 lowercase hex characters.',
        },
      ],
    };
  }
  if (advertised === undefined) return { kind: 'absent', note: `repodata: no attestations_sha256 for ${record.filename}` };
  return { kind: 'advertised', sha256: advertised };
}

/**
 * Discover and retrieve the sidecar, methods in order. `advertisement`: the result of
 * lookupAdvertised when the caller already has it (never looked up twice).
 */
export async function fetchSidecar(
  record: PackageRecord,
  methods: DiscoveryMethod[],
  deps: SidecarDeps,
  advertisement?: Advertisement,
): Promise<SidecarResult> {
  const tried: string[] = [];
  for (const method of methods) {
    if (method === 'repodata') {
      const ad = advertisement ?? (await lookupAdvertised(record, deps.repodata));
      if (ad.kind === 'absent') {
        tried.push(ad.note);
        continue;
      }
      if (ad.kind === 'failed') return { state: 'failed', method, reasons: ad.reasons };
      const advertised = ad.sha256;
      const url = sidecarUrl(record, 'repodata', advertised);
      try {
        const cached = deps.sidecarCache?.get(advertised);
        const body = cached ?? (await deps.http.get(url, { maxBytes: deps.maxBytes })).body;
        const parsed = parseSidecar(body, url, { expectedSha256: advertised });
        if (!cached) deps.sidecarCache?.put(advertised, body);
        return { state: 'found', url, method, ...parsed };
      } catch (e) {
        // Advertised: every failure is a retrieval failure and discovery stops here.
        return { state: 'failed', method, url, reasons: [reasonOf(sidecarFailure(e, url), url)] };
      }
    }
    const url = sidecarUrl(record, method);
    let body: Buffer;
    try {
      body = (await deps.http.get(url, { maxBytes: deps.maxBytes })).body;
    } catch (e) {
      // A probe may conclude "nothing here" (CEP 50). Never for an advertised sidecar.
      if (notPublished(e)) {
        tried.push(`${method}: ${url} not found (${(e as HttpError).status ?? 404})`);
        continue;
      }
      return { state: 'failed', method, url, reasons: [reasonOf(sidecarFailure(e, url), url)] };
    }
    try {
      const parsed = parseSidecar(body, url);
      return { state: 'found', url, method, ...parsed };
    } catch (e) {
      if (e instanceof SidecarError && e.code === 'SIDECAR_EMPTY') {
        tried.push(`${method}: ${url} is an empty array`);
        continue;
      }
      return { state: 'failed', method, url, reasons: [reasonOf(e, url)] };
    }
  }
  return { state: 'none', tried };
}
