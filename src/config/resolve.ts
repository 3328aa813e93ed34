// Configuration validation and resolution, for every host, as pure functions (the Node
// host, which finds the file and reads key files, is src/config/load.ts). schema/config.schema.json is the single
// source of truth (docs/configuration.md): structure, allowed values AND defaults come from it (ajv
// `useDefaults`), so there is no second copy of the defaults here. What a JSON Schema
// cannot say (URL canonical forms, mirror conflicts, regular-expression syntax, key
// files) is checked below, and every problem is reported at once, one line per path.
import { createPublicKey } from 'node:crypto';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import schema from '../../schema/config.schema.json' with { type: 'json' };
import { ConfigError } from '../errors.ts';
import { closest, type EditDistance } from '../util/closest.ts';

export type { EditDistance };
import { canonicalChannelUrl } from '../policy/channel.ts';
import { compileIdentityPattern, keyFingerprint } from '../policy/identity.ts';
import { PROVIDERS, parseShorthand } from '../policy/shorthand.ts';
import { CONSTRAINTS } from '../policy/constraints.ts';
import { globTies, isCalendarDate } from '../policy/packages.ts';
import { versionSpecProblem } from '../policy/conda-version.ts';
import type { ChannelPolicy, ClaimConstraints, DenyEntry, IdentityPattern, PackageRule, PolicyException, ResolvedConfig, TrustedKey } from '../types.ts';
import type { ChannelPolicy as ChannelPolicyWritten, Config, DenyList, TrustedIdentity, TrustedKey as RawKey } from '../generated/config-types.ts';

/** Issuers that can be inferred from a bare SAN pattern (docs/configuration.md, `trusted_identities`). */
const INFERRED_ISSUERS: ReadonlyArray<readonly [prefix: string, issuer: string]> = [
  ['https://github.com/', 'https://token.actions.githubusercontent.com'],
  ['https://gitlab.com/', 'https://gitlab.com'],
];

// The shape after schema validation and defaults is generated from the schema.
type RawPolicy = ChannelPolicyWritten & { enabled: boolean };
type RawIdentityObject = Exclude<TrustedIdentity, string>;

// ---- schema validation -----------------------------------------------------------------

// The validator is generated ahead of time from schema/config.schema.json
// (scripts/generate-validators.ts, allErrors + useDefaults + verbose): no schema compilation
// at start-up. It is passed in (src/config/validator.ts) rather than imported here: at 200 kB
// it is the largest module of a run, and a configuration validated before is not validated
// again (src/config/load.ts), so a run that does not need it does not load it.

/**
 * Deepest nesting a configuration may have. The schema's deepest path is a handful of
 * levels; the bound turns a hostile, deeply nested file into CONFIG_INVALID instead of a
 * stack overflow in the recursive copy below ("never crash, always say why").
 */
const MAX_CONFIG_DEPTH = 64;

/** Copy plain objects and arrays (ajv's useDefaults writes into the data); keep other values as they are so the schema can reject them. */
function cloneData(v: unknown, source: string | undefined, depth = 0): unknown {
  if (depth > MAX_CONFIG_DEPTH) {
    throw new ConfigError('CONFIG_INVALID', `The configuration${source ? ` in ${source}` : ''} is nested more than ${MAX_CONFIG_DEPTH} levels deep.`, {
      hint: 'Fix the file: schema/config.schema.json documents every key (none is nested that deep).',
    });
  }
  if (Array.isArray(v)) return v.map((x) => cloneData(x, source, depth + 1));
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = cloneData(x, source, depth + 1);
    return out;
  }
  return v;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** `/channels/https:~1~1x/require` → `channels["https://x"].require` */
function renderPath(segments: string[]): string {
  let out = '';
  for (const s of segments) {
    if (/^\d+$/.test(s)) out += `[${s}]`;
    else if (IDENT.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out === '' ? '(config)' : out;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}


interface Issue {
  path: string;
  line: string;
}

function issue(segments: string[], what: string, fix: string): Issue {
  const path = renderPath(segments);
  return { path, line: `${path}: ${what} — ${fix}` };
}

const POLICY_KEYS = Object.keys(
  (schema as unknown as { $defs: { channelPolicy: { properties: Record<string, unknown> } } }).$defs.channelPolicy.properties,
);

const TYPE_FIX: Record<string, string> = {
  boolean: 'write true or false',
  integer: 'write a whole number',
  string: 'write a quoted string',
  array: 'write a list, e.g. [a, b]',
  object: 'write a mapping of keys to values',
};

/** The schema's `x-hint` annotation: per ajv keyword, the problem and fix a CONFIG_INVALID line shows. */
type Hinted = { 'x-hint'?: Record<string, { problem?: string; fix: string }>; properties?: Record<string, unknown>; default?: unknown };

const SEE_SCHEMA = 'see the description of this key in schema/config.schema.json';

/** One ajv error → one line `<path>: <what is wrong> — <one-line fix>`, or null for noise. */
function describeAjvError(e: ErrorObject, distance: EditDistance): Issue | null {
  const segs = pointerSegments(e.instancePath);
  const p = e.params as Record<string, unknown>;
  const parentSchema = (e.parentSchema ?? {}) as Hinted;
  // Noise: the failing then/else branch, a oneOf branch and a key's own pattern are reported
  // once by `then`/`else`, `oneOf` and `propertyNames` (with the offending key in the path).
  if (e.keyword === 'if' || (e.keyword === 'required' && e.schemaPath.includes('/oneOf/')) || e.schemaPath.includes('/propertyNames/')) return null;
  if (e.keyword === 'additionalProperties') return unknownKey(segs, String(p.additionalProperty), Object.keys(parentSchema.properties ?? {}), distance);
  const dflt = parentSchema.default !== undefined && typeof parentSchema.default !== 'object' ? ` (default ${JSON.stringify(parentSchema.default)})` : '';
  const [at, problem, fix] = ((): [string[], string, string] => {
    switch (e.keyword) {
      case 'required':
        return [[...segs, String(p.missingProperty)], 'is required', `add ${String(p.missingProperty)}`];
      case 'dependentRequired':
        return [[...segs, String(p.missingProperty)], `is required with ${String(p.property)}`, `add ${String(p.missingProperty)}`];
      case 'propertyNames':
        return [[...segs, String(p.propertyName)], 'is not a valid key here', SEE_SCHEMA];
      case 'type': {
        const t = String(p.type);
        return [segs, `must be ${t === 'integer' ? 'an integer' : t === 'array' ? 'a list' : t === 'object' ? 'a mapping' : `a ${t}`}`, (TYPE_FIX[t] ?? `write a ${t}`) + dflt];
      }
      case 'enum': {
        const allowed = (p.allowedValues as unknown[]).map(String).join(', ');
        return [segs, `must be one of ${allowed}`, `use one of ${allowed}`];
      }
      case 'minimum':
      case 'maximum': {
        const [word, op] = e.keyword === 'minimum' ? ['at least', '>='] : ['at most', '<='];
        return [segs, `must be ${word} ${String(p.limit)}`, `use a value ${op} ${String(p.limit)}${parentSchema.default !== undefined ? ` (default ${JSON.stringify(parentSchema.default)})` : ''}`];
      }
      case 'pattern':
        return [segs, `must match ${String(p.pattern)}`, SEE_SCHEMA];
      case 'minProperties':
        return [segs, 'must not be empty', 'give at least one key or remove the entry'];
      case 'minLength':
        return [segs, 'must not be empty', 'give a value or remove the key to use the default'];
      case 'minItems':
        return [segs, `must list at least ${String(p.limit)} item(s)`, 'add an item or remove the key'];
      case 'uniqueItems': {
        const data = e.data as unknown[];
        return [segs, `lists ${Array.isArray(data) ? JSON.stringify(data[Number(p.j)]) : 'an item'} more than once`, 'remove the duplicate'];
      }
      default:
        return [segs, e.message ?? `fails ${e.keyword}`, SEE_SCHEMA];
    }
  })();
  const hint = parentSchema['x-hint']?.[e.keyword];
  return issue(at, hint?.problem ?? problem, hint?.fix ?? fix);
}

/** An unknown key: a did-you-mean, or a channel setting written at the top level. */
function unknownKey(segs: string[], key: string, known: string[], distance: EditDistance): Issue {
  const guess = closest(key, known, distance);
  // `require: error` written at the top level: a channel setting in the wrong place.
  const policyKey = segs.length === 0 && !guess ? closest(key, POLICY_KEYS, distance) : undefined;
  const what = 'unknown key (unknown keys are rejected so that a typo cannot weaken a check)';
  if (policyKey) return issue([key], what, `"${policyKey}" is a channel setting: put it under default (unlisted channels) or channels["<channel URL>"]`);
  return issue([...segs, key], what, guess ? `did you mean "${guess}"?` : `remove it; known keys here: ${known.join(', ')}`);
}

// ---- semantic checks the schema cannot express -----------------------------------------

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// Same test as the schema's propertyNames / mirrors pattern: what it rejects it reports.
const HTTP_URL = /^https?:\/\/[^/?#]+/i;

function checkIdentities(out: Issue[], segs: string[], list: unknown): void {
  if (!Array.isArray(list)) return;
  list.forEach((ti, i) => {
    const at = [...segs, 'trusted_identities', String(i)];
    const identity = typeof ti === 'string' ? ti : isRecord(ti) && typeof ti.identity === 'string' ? ti.identity : undefined;
    if (identity === undefined) return;
    let shorthand;
    try {
      shorthand = parseShorthand(identity);
    } catch (e) {
      out.push(issue(typeof ti === 'string' ? at : [...at, 'identity'], (e as Error).message, 'write github:owner/repo[@refs/...] or gitlab:group/project[@refs/...]'));
      return;
    }
    if (shorthand) {
      const issuer = isRecord(ti) ? ti.issuer : undefined;
      if (typeof issuer === 'string' && issuer !== PROVIDERS[shorthand.provider].issuer) {
        out.push(
          issue([...at, 'issuer'], `a ${shorthand.provider}: shorthand always means the issuer ${PROVIDERS[shorthand.provider].issuer}, not ${issuer}`, 'remove issuer, or write the SAN pattern with its own issuer instead of the shorthand'),
        );
      }
      return;
    }
    if (!isRecord(ti) || typeof ti.issuer !== 'string') return;
    // Fulcio's issuer claim is the OIDC issuer URL: anything else can never match a
    // certificate, so the entry would silently trust no one.
    if (!/^https?:\/\/[^/?#\s]+/i.test(ti.issuer)) {
      out.push(issue([...at, 'issuer'], 'must be the OIDC issuer URL', 'e.g. "https://token.actions.githubusercontent.com" for GitHub Actions'));
    }
    try {
      compileIdentityPattern({ identity, issuer: ti.issuer });
    } catch (e) {
      out.push(issue([...at, 'identity'], (e as Error).message, 'fix the regular expression after "re:", or write a glob without the "re:" prefix'));
    }
  });
}

function checkDeny(out: Issue[], segs: string[], list: unknown): void {
  if (!Array.isArray(list)) return;
  list.forEach((d, i) => {
    if (!isRecord(d)) return;
    const at = [...segs, 'deny', String(i)];
    if (typeof d.versions === 'string') {
      const problem = versionSpecProblem(d.versions);
      if (problem !== null) out.push(issue([...at, 'versions'], `"${d.versions}" is not a conda version spec (${problem})`, 'write e.g. ">=1.2,<1.3", "1.2.*" or "==1.2.0|==1.3.1"'));
    }
    if (typeof d.identity === 'string') {
      try {
        compileIdentityPattern({ identity: d.identity, issuer: '' });
      } catch (e) {
        out.push(issue([...at, 'identity'], (e as Error).message, 'write a SAN glob, re: and a regular expression, or github:owner/repo / gitlab:group/project'));
      }
    }
    const times: Record<string, number> = {};
    for (const key of ['signed_after', 'signed_before'] as const) {
      const v = d[key];
      if (typeof v !== 'string') continue;
      const instant = denyInstant(v);
      if (instant === null) out.push(issue([...at, key], `"${v}" is not a date or time`, 'write an ISO 8601 date (2026-03-01) or date-time (2026-03-01T12:00:00Z)'));
      else times[key] = Date.parse(instant);
    }
    if (times.signed_after !== undefined && times.signed_before !== undefined && times.signed_after >= times.signed_before) {
      out.push(issue([...at, 'signed_before'], 'is not after signed_after, so the entry would deny nothing', 'swap the two times, or widen the window'));
    }
  });
}

function checkPolicy(out: Issue[], segs: string[], pol: unknown): void {
  if (!isRecord(pol)) return;
  checkIdentities(out, segs, pol.trusted_identities);
  checkDeny(out, segs, pol.deny);
  if (isRecord(pol.packages)) {
    for (const [key, rule] of Object.entries(pol.packages)) {
      if (isRecord(rule)) checkIdentities(out, [...segs, 'packages', key], rule.trusted_identities);
    }
    for (const [a, b] of globTies(Object.keys(pol.packages))) {
      out.push(
        issue([...segs, 'packages', b], `is as specific as "${a}" (the same number of literal characters; stars do not count) and both can match the same package name, so neither would win`, 'make one of them more specific, or add a rule for the exact package names they share'),
      );
    }
  }
  if (Array.isArray(pol.exceptions)) {
    pol.exceptions.forEach((ex, i) => {
      if (isRecord(ex) && typeof ex.until === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(ex.until) && !isCalendarDate(ex.until)) {
        out.push(issue([...segs, 'exceptions', String(i), 'until'], `"${ex.until}" is not a calendar date`, 'write the last day the exception applies as YYYY-MM-DD'));
      }
    });
  }
}

/** Checks that need code: canonical URLs, mirror conflicts, `re:` syntax. Defensive about types (the schema reports those). */
function semanticIssues(data: unknown, distance: EditDistance): Issue[] {
  const out: Issue[] = [];
  if (!isRecord(data)) return out;

  // `public-goood`: a near miss of the one keyword is a typo, not a relative path.
  if (typeof data.trust_root === 'string' && data.trust_root !== 'public-good' && !/[/\\]|\.json$/i.test(data.trust_root)) {
    if (distance(data.trust_root.toLowerCase(), 'public-good') <= 3) {
      out.push(issue(['trust_root'], `"${data.trust_root}" is neither public-good nor a trusted_root.json path`, 'did you mean "public-good"?'));
    }
  }
  checkDeny(out, [], data.deny);
  if (isRecord(data.default)) {
    checkPolicy(out, ['default'], data.default);
    if (Array.isArray(data.default.mirrors) && data.default.mirrors.length > 0) {
      out.push(
        issue(['default', 'mirrors'], 'mirrors need a canonical channel to belong to', 'move them to channels["<canonical URL>"].mirrors'),
      );
    }
  }
  if (!isRecord(data.channels)) return out;

  const channelByCanonical = new Map<string, string>(); // canonical → key as written
  for (const key of Object.keys(data.channels)) {
    if (!HTTP_URL.test(key)) continue; // the schema reports it
    let canonical: string;
    try {
      canonical = canonicalChannelUrl(key);
    } catch (e) {
      out.push(issue(['channels', key], (e as Error).message.replace(/\.$/, ''), 'write the canonical channel URL, e.g. "https://prefix.dev/conda-forge"'));
      continue;
    }
    const other = channelByCanonical.get(canonical);
    if (other !== undefined) {
      out.push(issue(['channels', key], `is the same channel as channels[${JSON.stringify(other)}] (${canonical})`, 'keep only one of them'));
    } else {
      channelByCanonical.set(canonical, key);
    }
    checkPolicy(out, ['channels', key], data.channels[key]);
  }

  checkMirrors(out, data.channels, channelByCanonical);
  return out;
}

/** A mirror is not itself a channel and serves one channel only. */
function checkMirrors(out: Issue[], channels: Record<string, unknown>, channelByCanonical: Map<string, string>): void {
  const mirrorOwner = new Map<string, string>(); // canonical mirror → channel key
  for (const [key, pol] of Object.entries(channels)) {
    if (!isRecord(pol) || !Array.isArray(pol.mirrors)) continue;
    pol.mirrors.forEach((m, i) => {
      if (typeof m !== 'string' || !HTTP_URL.test(m)) return; // the schema reports it
      const segs = ['channels', key, 'mirrors', String(i)];
      let canonical: string;
      try {
        canonical = canonicalChannelUrl(m);
      } catch (e) {
        out.push(issue(segs, (e as Error).message.replace(/\.$/, ''), 'write the mirror as https://host/path'));
        return;
      }
      const asChannel = channelByCanonical.get(canonical);
      if (asChannel !== undefined) {
        out.push(
          issue(segs, `"${m}" is itself a configured channel (channels[${JSON.stringify(asChannel)}])`, 'a URL is either a channel or a mirror of one; remove one of the two'),
        );
        return;
      }
      const owner = mirrorOwner.get(canonical);
      if (owner !== undefined && owner !== key) {
        out.push(
          issue(segs, `"${m}" is already a mirror of channels[${JSON.stringify(owner)}]`, 'a mirror serves one channel; remove it from one of them'),
        );
        return;
      }
      mirrorOwner.set(canonical, key);
    });
  }
}

/**
 * Validate raw configuration data (as loaded from any config file, or `{}`) against the
 * schema and the semantic rules, and return it with the schema's defaults applied. Throws
 * ConfigError('CONFIG_INVALID') whose `details` lists every failing path, one line each,
 * sorted by path. Pure.
 */
export function validateConfig(raw: unknown, source: string | undefined, distance: EditDistance, validate: ValidateFunction): Config {
  // Only the absence of a document means defaults; a `null` document fails validation (it
  // must be a mapping) instead of silently disabling every check.
  const data = cloneData(raw === undefined ? {} : raw, source);
  const issues: Issue[] = [];
  if (!validate(data)) {
    const errors = validate.errors ?? [];
    // A value of the wrong type also fails its range/length checks; the type is the one fix.
    const wrongType = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
    for (const e of errors) {
      if (e.keyword !== 'type' && wrongType.has(e.instancePath)) continue;
      const i = describeAjvError(e, distance);
      if (i) issues.push(i);
    }
  }
  issues.push(...semanticIssues(data, distance));
  if (issues.length > 0) {
    const lines = [...new Set(issues.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((i) => i.line))];
    // The problems are in the message itself: hosts log `message`, not `details`.
    throw new ConfigError(
      'CONFIG_INVALID',
      `The configuration${source ? ` in ${source}` : ''} is invalid (${lines.length} problem${lines.length === 1 ? '' : 's'}):\n${problemList(lines)}`,
      { hint: 'Fix each listed path; schema/config.schema.json documents every key.', details: lines },
    );
  }
  return data as Config;
}

/** Problem lines as they appear in an error message: one `  - <line>` each. */
function problemList(lines: readonly string[]): string {
  return lines.map((l) => `  - ${l}`).join('\n');
}

// ---- resolution ------------------------------------------------------------------------

/** What resolution needs from its host, as data: paths, the key files' texts, the cache directory. */
export interface ConfigHost {
  /** A path from the config file (`~/`, relative to `baseDir`) as an absolute one. */
  resolvePath(p: string, baseDir: string): string;
  /** The cache directory when the config names none. */
  defaultCacheDir(): string;
  /** Each of keyFilePaths()'s files: its text, or why it could not be read (e.g. `{ error: 'ENOENT' }`). */
  keyFiles: ReadonlyMap<string, string | { error: string }>;
}

/** The issuer of a pattern written without one: the shorthand's provider, or inferred from the SAN's host. */
function inferredIssuer(identity: string): string {
  const shorthand = parseShorthand(identity); // validated before resolution
  if (shorthand) return PROVIDERS[shorthand.provider].issuer;
  // The schema only lets issuer-less patterns through for the hosts below.
  const found = INFERRED_ISSUERS.find(([prefix]) => identity.startsWith(prefix));
  if (!found) throw new Error(`unreachable: identity ${identity} without issuer passed the schema`);
  return found[1];
}

function constraintsOf(ti: RawIdentityObject): ClaimConstraints | undefined {
  const c: Record<string, string | string[]> = {};
  for (const { key, field, match } of CONSTRAINTS) {
    const v = ti[key as keyof RawIdentityObject];
    // Numeric IDs may be written unquoted in YAML; the claim is a decimal string.
    if (v !== undefined) c[field] = match === 'one-of' ? [v].flat().map(String) : String(v);
  }
  return Object.keys(c).length > 0 ? (c as ClaimConstraints) : undefined;
}

function normaliseIdentity(ti: TrustedIdentity): IdentityPattern {
  if (typeof ti === 'string') return { identity: ti, issuer: inferredIssuer(ti) };
  const constraints = constraintsOf(ti);
  return { identity: ti.identity, issuer: ti.issuer ?? inferredIssuer(ti.identity), ...(constraints ? { constraints } : {}) };
}

const PEM_RE = /-----BEGIN [A-Z0-9 ]+-----/;

/** A trusted_keys entry's inline PEM, or the file it names. The schema guarantees exactly one of key / path / pem in the object form. */
function keySource(entry: RawKey, baseDir: string, resolvePath: ConfigHost['resolvePath']): { pem: string } | { file: string } {
  const value = typeof entry === 'string' ? entry : (entry.key ?? entry.path ?? entry.pem ?? '');
  const asPath = typeof entry !== 'string' && entry.path !== undefined;
  return !asPath && PEM_RE.test(value) ? { pem: value } : { file: resolvePath(value, baseDir) };
}

/** Every key file a validated configuration names, for the host to read before resolveConfigOn. */
export function keyFilePaths(c: Config, baseDir: string, resolvePath: ConfigHost['resolvePath']): string[] {
  const entries = [c.default, ...Object.values(c.channels)].flatMap((p) => [...p.trusted_keys, ...Object.values(p.packages).flatMap((r) => r.trusted_keys ?? [])]);
  return [...new Set(entries.map((e) => keySource(e, baseDir, resolvePath)).flatMap((k) => ('file' in k ? [k.file] : [])))];
}

/** Load and check the trusted keys of one policy; problems are collected, not thrown. */
function loadKeys(segs: string[], entries: RawKey[], baseDir: string, host: ConfigHost, problems: Issue[]): TrustedKey[] {
  const keys: TrustedKey[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const at = [...segs, 'trusted_keys', String(i)];
    const name = typeof entry === 'string' ? undefined : entry.name;
    const from = keySource(entry, baseDir, host.resolvePath);
    const source = 'file' in from ? from.file : 'inline';
    const pemText = 'file' in from ? (host.keyFiles.get(from.file) ?? { error: 'not read' }) : from.pem;
    if (typeof pemText !== 'string') {
      problems.push(issue(at, `cannot read key file ${source} (${pemText.error})`, `check the path (relative paths are resolved against ${baseDir})`));
      return;
    }
    // A private key would parse (Node derives its public half) but must never sit in a
    // configuration file that is meant to be committed.
    if (/PRIVATE KEY-----/.test(pemText)) {
      problems.push(issue(at, `${source === 'inline' ? 'the inline key' : source} is a PRIVATE key`, 'configure the public key only, and rotate the private key if this file was shared'));
      return;
    }
    let pem: string;
    let fingerprint: string;
    try {
      const key = createPublicKey(pemText);
      pem = key.export({ type: 'spki', format: 'pem' }).toString();
      fingerprint = keyFingerprint(pem);
    } catch (e) {
      problems.push(
        issue(at, `${source === 'inline' ? 'the inline key' : source} is not a PEM public key (${(e as Error).message})`, 'give an ECDSA, Ed25519 or RSA public key in PEM ("-----BEGIN PUBLIC KEY-----")'),
      );
      return;
    }
    if (seen.has(fingerprint)) return; // the same key twice adds nothing
    seen.add(fingerprint);
    keys.push({ ...(name !== undefined ? { name } : {}), pem, source, fingerprint });
  });
  return keys;
}

/**
 * A deny entry's time (ISO 8601 date or date-time; no offset: UTC) as a UTC ISO string, or
 * null when it is not a real date or time (2026-02-30 included).
 */
export function denyInstant(text: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)([Zz]|[+-]\d{2}:\d{2})?)?$/.exec(text);
  if (!m || !isCalendarDate(m[1]!)) return null;
  const ms = Date.parse(`${m[1]}T${m[2] ?? '00:00:00'}${m[3] ?? 'Z'}`);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

function resolveDeny(where: string, raw: DenyList | undefined): DenyEntry[] {
  return (raw ?? []).map((d, i): DenyEntry => {
    const at = `${where}[${i}]`;
    if (d.sha256 !== undefined) return { sha256: d.sha256.toLowerCase(), reason: d.reason, at };
    if (d.package !== undefined) return { package: d.package.toLowerCase(), versions: d.versions!, reason: d.reason, at };
    const after = d.signed_after !== undefined ? denyInstant(d.signed_after) : null;
    const before = d.signed_before !== undefined ? denyInstant(d.signed_before) : null;
    return { identity: d.identity!, ...(after !== null ? { signedAfter: after } : {}), ...(before !== null ? { signedBefore: before } : {}), reason: d.reason, at };
  });
}

function resolvePolicy(
  channel: string,
  segs: string[],
  raw: RawPolicy,
  baseDir: string,
  host: ConfigHost,
  problems: Issue[],
): ChannelPolicy {
  const packages: PackageRule[] = Object.entries(raw.packages ?? {})
    .map(([pattern, rule]) => ({
      pattern,
      ...(rule.require !== undefined ? { require: rule.require } : {}),
      ...(rule.trusted_identities !== undefined ? { trustedIdentities: rule.trusted_identities.map(normaliseIdentity) } : {}),
      ...(rule.trusted_keys !== undefined ? { trustedKeys: loadKeys([...segs, 'packages', pattern], rule.trusted_keys, baseDir, host, problems) } : {}),
    }))
    .sort((a, b) => (a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0));
  const deny = resolveDeny(`${segs.length === 1 ? segs[0] : `channels[${JSON.stringify(segs[1])}]`}.deny`, raw.deny);
  const exceptions: PolicyException[] = (raw.exceptions ?? []).map((e) => ({
    package: e.package,
    until: e.until,
    ...(e.reason !== undefined ? { reason: e.reason } : {}),
  }));
  return {
    channel,
    enabled: raw.enabled,
    require: raw.require,
    trustedIdentities: raw.trusted_identities.map(normaliseIdentity),
    trustedKeys: loadKeys(segs, raw.trusted_keys, baseDir, host, problems),
    requireTlog: raw.require_tlog,
    mirrors: [...new Set(raw.mirrors.map(canonicalChannelUrl))].sort(),
    discovery: [...raw.discovery],
    ...(packages.length > 0 ? { packages } : {}),
    ...(exceptions.length > 0 ? { exceptions } : {}),
    ...(deny.length > 0 ? { deny } : {}),
  };
}

/**
 * A validated configuration (validateConfig) → ResolvedConfig: relative paths resolved
 * against `baseDir` (the config file's directory), channel URLs canonicalised, trusted keys
 * (inline, or the texts of keyFilePaths()'s files in `host.keyFiles`) parsed. Pure.
 *
 * @throws ConfigError CONFIG_KEY_INVALID (details: one line per unusable key entry).
 */
export function resolveConfigOn(c: Config, baseDir: string, source: string | undefined, host: ConfigHost): ResolvedConfig {
  const keyProblems: Issue[] = [];
  const channels = Object.entries(c.channels)
    .map(([key, pol]) => {
      const canonical = canonicalChannelUrl(key);
      return resolvePolicy(canonical, ['channels', key], pol, baseDir, host, keyProblems);
    })
    .sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
  const dflt = resolvePolicy('default', ['default'], c.default, baseDir, host, keyProblems);
  if (keyProblems.length > 0) {
    const lines = keyProblems.map((i) => i.line).sort();
    throw new ConfigError(
      'CONFIG_KEY_INVALID',
      `${lines.length} trusted key${lines.length === 1 ? '' : 's'} in the configuration${source ? ` ${source}` : ''} cannot be used:\n${problemList(lines)}`,
      { hint: 'Each trusted_keys entry must be a PEM public key or the path of one.', details: lines },
    );
  }
  return {
    ...(source !== undefined ? { source } : {}),
    trustRoot: c.trust_root === 'public-good' ? 'public-good' : host.resolvePath(c.trust_root, baseDir),
    ...(c.trust_root_max_age_days !== undefined ? { trustRootMaxAgeDays: c.trust_root_max_age_days } : {}),
    lockfile: host.resolvePath(c.lockfile, baseDir),
    maxSidecarBytes: c.max_sidecar_bytes,
    default: dflt,
    channels,
    deny: resolveDeny('deny', c.deny),
    cacheDir: c.cache_dir !== undefined ? host.resolvePath(c.cache_dir, baseDir) : host.defaultCacheDir(),
    http: {
      connectTimeoutMs: c.http.connect_timeout_ms,
      totalTimeoutMs: c.http.timeout_ms,
      idleTimeoutMs: c.http.idle_timeout_ms,
      retries: c.http.retries,
    },
    deadlineMs: c.deadline_ms,
    concurrency: c.concurrency,
    ...(c.serve !== undefined ? { serve: resolveServe(c.serve) } : {}),
  };
}

/** `serve:` as the proxy reads it (defaults are the command's, src/serve/options.ts). */
function resolveServe(s: NonNullable<Config['serve']>): NonNullable<ResolvedConfig['serve']> {
  const out: NonNullable<ResolvedConfig['serve']> = { routes: { ...s.routes } };
  if (s.listen !== undefined) out.listen = s.listen;
  if (s.request_deadline_ms !== undefined) out.requestDeadlineMs = s.request_deadline_ms;
  if (s.breaker_cool_down_ms !== undefined) out.breakerCoolDownMs = s.breaker_cool_down_ms;
  if (s.max_connections !== undefined) out.maxConnections = s.max_connections;
  return out;
}

/** The JSON Schema of the configuration (for `--print-schema`-style tooling and docs). */
export const configSchema: unknown = schema;
