// Re-checking a cached public-good trusted_root.json against its signed TUF metadata, on
// every load (pure: data in, a reason out). The cache directory is not a trust anchor: a
// CI cache restored from another run, or any process that can write there, could plant a
// trusted_root.json of its own with a fresh meta.json. What makes the cached copy the
// public-good root is the TUF chain that the refresh verified, so each load verifies it
// again, offline, from the TUF root embedded in this release:
//
//   1. the cached TUF root.json is the embedded one, or a later version signed by a
//      threshold of the embedded root's root keys and of its own (TUF spec §5.3.4-5.3.5;
//      a later root whose keys rotated past the embedded threshold is refused, and the
//      next refresh or release brings it back);
//   2. targets.json is signed by a threshold of that root's targets keys (§5.6.3);
//   3. trusted_root.json has exactly the length and hashes targets.json names (§5.7.3).
//
// Snapshot and timestamp metadata are not required here: they guard freshness, which the
// root's age (cachedRootDate, below: only a timestamp that chains to these targets counts)
// and trust_root_max_age_days handle; a writer of the cache can at most bring back an older
// genuine public-good root, never one of its own, and it is dated as old as it is.
//
// Signature checks over the canonical JSON form (OLPC canonical JSON, as TUF signs) with
// node:crypto; @tufjs/models would do the same but costs ~60 ms of start-up on every run.
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';

type Obj = Record<string, unknown>;

interface Signed {
  signed: Obj;
  signatures: { keyid: string; sig: string }[];
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

let canonicalize: ((v: unknown) => string) | undefined;
function canonical(v: unknown): Buffer {
  canonicalize ??= (createRequire(import.meta.url)('@tufjs/canonical-json') as { canonicalize: (v: unknown) => string }).canonicalize;
  return Buffer.from(canonicalize(v), 'utf8');
}

function asMetadata(v: unknown, type: string, what: string): Signed {
  if (!isObj(v) || !isObj(v.signed) || !Array.isArray(v.signatures)) throw new Error(`${what} is not TUF metadata`);
  if (v.signed._type !== type) throw new Error(`${what} is not ${type} metadata`);
  return v as unknown as Signed;
}

/** A TUF key as node:crypto can use it, or undefined for a type we do not verify (never counts). */
function keyOf(k: unknown): { key: KeyObject; hash: string | null } | undefined {
  if (!isObj(k) || !isObj(k.keyval) || typeof k.keyval.public !== 'string') return undefined;
  const pub = k.keyval.public;
  try {
    if (k.keytype === 'ed25519' && k.scheme === 'ed25519') {
      const raw = pub.includes('BEGIN') ? undefined : Buffer.from(pub, 'hex');
      const key = raw ? createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' }) : createPublicKey(pub);
      return { key, hash: null };
    }
    if ((k.keytype === 'ecdsa' || String(k.keytype).startsWith('ecdsa-sha2-')) && (k.scheme === 'ecdsa-sha2-nistp256' || k.scheme === 'ecdsa-sha2-nistp384')) {
      const key = pub.includes('BEGIN') ? createPublicKey(pub) : createPublicKey({ key: Buffer.from(pub, 'hex'), format: 'der', type: 'spki' });
      return { key, hash: k.scheme === 'ecdsa-sha2-nistp256' ? 'sha256' : 'sha384' };
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** True when a threshold of `role`'s keys in `root` (a root's `signed`) signed `md`; distinct keys only. */
function signedByThreshold(root: Obj, role: string, md: Signed): boolean {
  const roles = isObj(root.roles) ? root.roles : {};
  const r = roles[role];
  const keys = isObj(root.keys) ? root.keys : {};
  if (!isObj(r) || !Array.isArray(r.keyids) || !Number.isInteger(r.threshold) || (r.threshold as number) < 1) return false;
  const data = canonical(md.signed);
  const signers = new Set<string>();
  for (const keyid of new Set(r.keyids as unknown[])) {
    if (typeof keyid !== 'string' || !Object.hasOwn(keys, keyid)) continue;
    const k = keyOf(keys[keyid]);
    const sig = md.signatures.find((s) => isObj(s) && s.keyid === keyid)?.sig;
    if (!k || typeof sig !== 'string' || !/^[0-9a-f]+$/i.test(sig)) continue;
    let ok = false;
    try {
      ok = verify(k.hash, data, k.key, Buffer.from(sig, 'hex'));
    } catch {
      ok = false;
    }
    // The same key listed under two key IDs counts once.
    if (ok) signers.add(k.key.export({ format: 'der', type: 'spki' }).toString('hex'));
  }
  return signers.size >= (r.threshold as number);
}

export interface CachedTufState {
  /** The TUF root this release trusts (embedded in @sigstore/tuf's seeds). */
  anchorRoot: unknown;
  /** root.json, targets.json of the cached TUF metadata (parsed JSON). */
  root: unknown;
  targets: unknown;
  /** The cached trusted_root.json bytes. */
  trustedRoot: Buffer;
  /** Its TUF target name. */
  targetName: string;
}

const HASHES: Record<string, string> = { sha256: 'sha256', sha512: 'sha512' };

/** Undefined when the cached trusted root is the one the signed TUF metadata names; else why not. */
export function cachedRootProblem(s: CachedTufState): string | undefined {
  try {
    const anchor = asMetadata(s.anchorRoot, 'root', 'the embedded TUF root');
    const root = asMetadata(s.root, 'root', 'the cached TUF root.json');
    const av = anchor.signed.version;
    const rv = root.signed.version;
    if (!Number.isInteger(av) || !Number.isInteger(rv)) return 'a TUF root has no version';
    if ((rv as number) < (av as number)) return `the cached TUF root (version ${rv}) is older than the embedded one (version ${av})`;
    if (rv === av) {
      if (!canonical(root.signed).equals(canonical(anchor.signed))) return `the cached TUF root version ${rv} differs from the embedded one`;
    } else if (!signedByThreshold(anchor.signed, 'root', root) || !signedByThreshold(root.signed, 'root', root)) {
      return `the cached TUF root (version ${rv}) is not signed by a threshold of the embedded root's keys (version ${av}) and of its own`;
    }
    const targets = asMetadata(s.targets, 'targets', 'the cached TUF targets.json');
    if (!signedByThreshold(root.signed, 'targets', targets)) return 'the cached targets.json is not signed by a threshold of the TUF root\'s targets keys';
    const list = isObj(targets.signed.targets) ? targets.signed.targets : {};
    const entry = Object.hasOwn(list, s.targetName) ? list[s.targetName] : undefined;
    if (!isObj(entry) || !isObj(entry.hashes)) return `the signed targets.json does not list ${s.targetName}`;
    if (entry.length !== s.trustedRoot.length) return `${s.targetName} is ${s.trustedRoot.length} bytes, the signed targets.json says ${String(entry.length)}`;
    let checked = 0;
    for (const [alg, want] of Object.entries(entry.hashes)) {
      if (!Object.hasOwn(HASHES, alg)) continue;
      checked++;
      if (typeof want !== 'string' || createHash(HASHES[alg]!).update(s.trustedRoot).digest('hex') !== want.toLowerCase()) {
        return `${s.targetName} does not have the ${alg} that the signed targets.json names`;
      }
    }
    if (checked === 0) return `the signed targets.json names no sha256 or sha512 for ${s.targetName}`;
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * When TUF metadata was signed, read from its content: tuf-on-ci, the tooling of the
 * public-good repository, sets `expires` to the signing time plus the role's expiry period
 * and records that period (in days) as `x-tuf-on-ci-expiry-period`, in the metadata itself
 * (root, targets) or in the root's entry for the role (snapshot, timestamp). Null when the
 * metadata does not say (another tool, or a test repository).
 */
function signedAt(signed: Obj, root: Obj, role: string): number | null {
  const roles = isObj(root.roles) ? root.roles : {};
  const entry = isObj(roles[role]) ? (roles[role] as Obj) : {};
  const period = signed['x-tuf-on-ci-expiry-period'] ?? entry['x-tuf-on-ci-expiry-period'];
  const expires = typeof signed.expires === 'string' ? Date.parse(signed.expires) : Number.NaN;
  if (typeof period !== 'number' || !Number.isInteger(period) || period < 1 || Number.isNaN(expires)) return null;
  return expires - period * 86_400_000;
}

/** The signing date of a TUF root (the embedded anchor: it came with the snapshot it dates). */
export function tufRootDate(root: unknown): number | null {
  try {
    const r = asMetadata(root, 'root', 'the TUF root');
    return signedAt(r.signed, r.signed, 'root');
  } catch {
    return null;
  }
}

export interface CachedTufDates {
  root: unknown;
  targets: unknown;
  /** snapshot.json and timestamp.json of the same refresh, when kept. */
  snapshot?: unknown;
  timestamp?: unknown;
}

/**
 * The newest signing date among the cached TUF metadata that vouches for the cached root:
 * root.json and targets.json (checked by cachedRootProblem before this is called), and the
 * timestamp, when it is signed by a threshold of the root's timestamp keys and names,
 * through a snapshot signed by the snapshot keys, this very targets.json version (TUF spec
 * §5.4-5.5). An unverified timestamp counts for nothing: a cache writer could otherwise
 * pair an old genuine root with a fresh timestamp to make it look current. Null when none
 * says.
 */
export function cachedRootDate(s: CachedTufDates): number | null {
  try {
    const root = asMetadata(s.root, 'root', 'root.json');
    const targets = asMetadata(s.targets, 'targets', 'targets.json');
    const dates = [signedAt(root.signed, root.signed, 'root'), signedAt(targets.signed, root.signed, 'targets')];
    try {
      const snapshot = asMetadata(s.snapshot, 'snapshot', 'snapshot.json');
      const timestamp = asMetadata(s.timestamp, 'timestamp', 'timestamp.json');
      const version = (md: Signed, name: string): unknown => {
        const meta = isObj(md.signed.meta) ? md.signed.meta : {};
        return isObj(meta[name]) ? (meta[name] as Obj).version : undefined;
      };
      const chained =
        signedByThreshold(root.signed, 'snapshot', snapshot) &&
        signedByThreshold(root.signed, 'timestamp', timestamp) &&
        Number.isInteger(targets.signed.version) && version(snapshot, 'targets.json') === targets.signed.version &&
        Number.isInteger(snapshot.signed.version) && version(timestamp, 'snapshot.json') === snapshot.signed.version;
      if (chained) dates.push(signedAt(timestamp.signed, root.signed, 'timestamp'), signedAt(snapshot.signed, root.signed, 'snapshot'));
    } catch {
      // no snapshot/timestamp kept, or not metadata: the root and targets dates stand
    }
    const known = dates.filter((d): d is number => d !== null);
    return known.length ? Math.max(...known) : null;
  } catch {
    return null;
  }
}
