// A TUF repository on loopback (TUF specification 1.0: root, timestamp, snapshot and
// targets metadata, one ECDSA P-256 key per role, threshold 1), serving one target,
// trusted_root.json, the way the public-good repository serves the Sigstore trust root.
// Its root.json is the anchor a test hands to loadTrustRoot (`tufRoot`), as the release
// embeds the public-good one. Each call makes fresh keys: a second repository is an
// attacker's, signed by keys the anchor does not know.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { startLoopback } from './loopback.ts';

const { canonicalize } = createRequire(import.meta.url)('@tufjs/canonical-json') as { canonicalize: (v: unknown) => string };
const EXPIRES = '2099-01-01T00:00:00Z';
const ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;

interface RoleKey {
  id: string;
  json: object;
  privateKey: KeyObject;
}

function roleKey(): RoleKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const json = { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: publicKey.export({ format: 'pem', type: 'spki' }).toString() } };
  return { id: createHash('sha256').update(canonicalize(json)).digest('hex'), json, privateKey };
}

function signed(body: object, keys: RoleKey[]): Buffer {
  const data = Buffer.from(canonicalize(body));
  const signatures = keys.map((k) => ({ keyid: k.id, sig: sign('sha256', data, k.privateKey).toString('hex') }));
  return Buffer.from(JSON.stringify({ signed: body, signatures }, null, 1));
}

export interface TufFiles {
  /** root.json (version 1): the anchor. */
  root: Buffer;
  targets: Buffer;
  snapshot: Buffer;
  timestamp: Buffer;
  trustedRoot: Buffer;
}

/**
 * Signed metadata for `trustedRoot`, with fresh keys. With `signedAt`, every role is dated
 * the way tuf-on-ci (the public-good repository's tooling) dates it: `expires` is the signing
 * time plus the role's `x-tuf-on-ci-expiry-period` (365 days here), recorded in root and
 * targets metadata and in the root's entries for snapshot and timestamp. Without it, the
 * metadata says nothing about when it was signed (expires 2099).
 */
export function makeTufFiles(trustedRoot: Buffer, opts: { signedAt?: Date } = {}): TufFiles {
  const keys = Object.fromEntries(ROLES.map((r) => [r, roleKey()])) as Record<(typeof ROLES)[number], RoleKey>;
  const PERIOD = 365;
  const dated = opts.signedAt ? { 'x-tuf-on-ci-expiry-period': PERIOD } : {};
  const expires = opts.signedAt ? new Date(opts.signedAt.getTime() + PERIOD * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z') : EXPIRES;
  const base = { spec_version: '1.0.31', version: 1, expires };
  const root = signed(
    {
      _type: 'root',
      ...base,
      ...dated,
      consistent_snapshot: false,
      keys: Object.fromEntries(ROLES.map((r) => [keys[r].id, keys[r].json])),
      roles: Object.fromEntries(ROLES.map((r) => [r, { keyids: [keys[r].id], threshold: 1, ...(r === 'snapshot' || r === 'timestamp' ? dated : {}) }])),
    },
    [keys.root],
  );
  const targets = signed(
    { _type: 'targets', ...base, ...dated, targets: { 'trusted_root.json': { length: trustedRoot.length, hashes: { sha256: createHash('sha256').update(trustedRoot).digest('hex') } } } },
    [keys.targets],
  );
  const snapshot = signed({ _type: 'snapshot', ...base, meta: { 'targets.json': { version: 1 } } }, [keys.snapshot]);
  const timestamp = signed({ _type: 'timestamp', ...base, meta: { 'snapshot.json': { version: 1 } } }, [keys.timestamp]);
  return { root, targets, snapshot, timestamp, trustedRoot };
}

/** TUF metadata of `type` signed by a fresh key no root knows (an attacker's), with these fields. */
export function forgedMetadata(type: string, fields: object): Buffer {
  return signed({ _type: type, spec_version: '1.0.31', version: 1, expires: EXPIRES, ...fields }, [roleKey()]);
}

/** Serve `files` as a TUF repository (non-consistent snapshots) on 127.0.0.1. */
export async function startTufRepo(files: TufFiles): Promise<{ url: string; close(): Promise<void> }> {
  const paths: Record<string, Buffer> = {
    '/1.root.json': files.root,
    '/timestamp.json': files.timestamp,
    '/snapshot.json': files.snapshot,
    '/targets.json': files.targets,
    '/targets/trusted_root.json': files.trustedRoot,
  };
  const lb = await startLoopback((req, res) => {
    const body = paths[req.url ?? ''];
    if (!body) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  return { url: lb.url, close: () => lb.close() };
}
