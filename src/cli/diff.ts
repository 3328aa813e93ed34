// `conda-attest diff`: signer identity changes between two identity lockfiles.
//
// Usage
//   conda-attest diff                      committed lockfile (git HEAD) vs working tree
//   conda-attest diff OLD                  OLD vs the working-tree lockfile
//   conda-attest diff OLD NEW              two lockfiles
//   conda-attest diff --base origin/main   that revision's lockfile vs the working tree
//   conda-attest diff --textconv FILE      one lockfile as text, one fact per line (git driver)
// Options
//   --format text|markdown|json   text (default; coloured on a TTY), markdown (for a
//                                 pull-request comment), json (stable shape, see
//                                 src/lock/diff.ts); --json = --format json
//   --lockfile PATH               the working-tree lockfile (default: the config's
//                                 `lockfile`, else ./conda-attest.lock)
//   --config PATH                 config file naming the lockfile (default: searched from
//                                 the current directory up, like `verify`)
//   --color / --no-color          force colour on/off for text (default: TTY and NO_COLOR)
//   --exit-code                   exit 1 when a signer identity changed (package pinned,
//                                 unpinned, identity changed/added/removed; first/last
//                                 seen bookkeeping alone does not count), like git diff
// Exit codes: 0 (with or without changes, unless --exit-code), 1 (--exit-code and
// identity changes), 2 (unreadable or corrupt lockfile, bad arguments, no git history).
// A lockfile absent at the git revision is an empty lock (everything shows as added).
//
// Using it as a git diff driver, so `git diff` / `git log -p` show identity facts:
//   echo 'conda-attest.lock diff=conda-attest' >> .gitattributes
//   git config diff.conda-attest.textconv 'conda-attest diff --textconv'
// git runs `conda-attest diff --textconv <file>` on each side and diffs the output: one
// line per fact, `<channel> <package> [<identity>] <field> <value>`, so a changed
// repository ID shows as one -/+ line pair that names its package and identity. A side
// that is not a valid lockfile (e.g. with merge-conflict markers) is shown raw after a
// `# conda-attest: ...` line rather than failing the whole `git diff`.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { AttestError, LockError, UsageError, describeError } from '../errors.ts';
import { diffJson, diffLocks, isIdentityChange } from '../lock/diff.ts';
import { renderDiffMarkdown, renderDiffText, renderLockText } from '../report/lock-diff.ts';
import { parseLock, readLock } from '../lock/file.ts';
import { escapeJsonOutput, escapeLines, escapeText } from '../text/escape.ts';
import { type Lock, emptyLock } from '../lock/types.ts';
import { loadConfig } from '../config/load.ts';
import { type CliIO, type Command, wantsColor } from './io.ts';
import { type CommandSpec, chooseFormat, formatOptions, HELP_OPTION, parseCommand, renderHelp } from './options.ts';

const DEFAULT_LOCKFILE = 'conda-attest.lock';

const DIFF_FORMATS = ['text', 'markdown', 'json'] as const;

export const DIFF_SPEC: CommandSpec = {
  name: 'diff',
  usage: ['conda-attest diff [OLD] [NEW] [options]', 'conda-attest diff --textconv FILE'],
  description: `Show signer identity changes between two identity lockfiles. Default: the lockfile
committed at git HEAD vs the working tree.`,
  options: [
    ...formatOptions(DIFF_FORMATS),
    { name: 'lockfile', type: 'string', arg: 'PATH', help: `working-tree lockfile (default: the config's lockfile,\nelse ./${DEFAULT_LOCKFILE})` },
    { name: 'config', type: 'string', arg: 'PATH', help: 'config file (default: searched from the current directory up)' },
    { name: 'base', type: 'string', arg: 'REV', help: 'compare with the lockfile at git revision REV (default HEAD)' },
    { name: 'color', type: 'boolean', help: 'force colour on (text format)' },
    { name: 'no-color', type: 'boolean', help: 'force colour off (text format)' },
    { name: 'exit-code', type: 'boolean', help: 'exit 1 when a signer identity changed' },
    {
      name: 'textconv',
      type: 'string',
      arg: 'FILE',
      help: "print one lockfile as text, one fact per line (git diff driver:\ngit config diff.conda-attest.textconv 'conda-attest diff --textconv')",
    },
    HELP_OPTION,
  ],
  exitCodes: [
    [0, 'shown (with or without changes, unless --exit-code)'],
    [1, '--exit-code and a signer identity changed'],
    [2, 'unreadable or corrupt lockfile, bad arguments, no git history'],
  ],
};

type Format = (typeof DIFF_FORMATS)[number];

function git(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ok: boolean; stdout: string; stderr: string; missing?: boolean }> {
  return new Promise((res) => {
    execFile('git', args, { cwd, env, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const missing = (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
      res({ ok: !err, stdout, stderr, missing });
    });
  });
}

/** The lockfile at git revision `rev` (an absent file = empty lock). */
async function lockAtRevision(path: string, rev: string, env: NodeJS.ProcessEnv): Promise<Lock> {
  if (rev.startsWith('-')) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `"${rev}" is not a git revision.`, { hint: 'Pass a branch, tag or commit to --base.' });
  }
  const dir = dirname(path);
  if (!existsSync(dir)) {
    throw new LockError('LOCK_NOT_FOUND', `The directory of the lockfile ${path} does not exist.`, { hint: 'Check --lockfile.' });
  }
  const inside = await git(dir, ['rev-parse', '--is-inside-work-tree'], env);
  if (!inside.ok) {
    throw new LockError(
      'LOCK_NOT_FOUND',
      inside.missing ? 'git is not installed, so there is no committed lockfile to compare with.' : `${dir} is not inside a git work tree, so there is no committed lockfile to compare with.`,
      { hint: 'Pass the old lockfile explicitly: conda-attest diff OLD [NEW].' },
    );
  }
  const commit = await git(dir, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], env);
  if (!commit.ok) {
    // A repository without any commit yet: nothing is committed, the old lock is empty.
    if (rev === 'HEAD') return emptyLock();
    throw new LockError('LOCK_NOT_FOUND', `"${rev}" is not a commit in this repository.`, { hint: 'Check the revision passed to --base.' });
  }
  const sha = commit.stdout.trim();
  const object = `${sha}:./${basename(path)}`;
  if (!(await git(dir, ['cat-file', '-e', object], env)).ok) return emptyLock();
  const shown = await git(dir, ['cat-file', 'blob', object], env);
  if (!shown.ok) {
    throw new LockError('LOCK_UNREADABLE', `git cannot read ${basename(path)} at ${rev} (${shown.stderr.trim()}).`, {
      hint: 'Pass the old lockfile explicitly: conda-attest diff OLD [NEW].',
    });
  }
  return parseLock(shown.stdout, `${rev}:${basename(path)}`);
}

/** An explicitly named lockfile must exist (a typo must not read as "everything added"). */
async function lockFromFile(path: string): Promise<Lock> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new LockError(
      code === 'ENOENT' ? 'LOCK_NOT_FOUND' : 'LOCK_UNREADABLE',
      `The lockfile ${path} cannot be read (${describeError(e)}).`,
      { hint: 'Check the path.', cause: e },
    );
  }
  return parseLock(text, path);
}

async function textconv(file: string, io: CliIO): Promise<number> {
  const path = resolve(io.cwd, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new LockError('LOCK_UNREADABLE', `The lockfile ${path} cannot be read (${describeError(e)}).`, { hint: 'Check the path.', cause: e });
  }
  try {
    io.stdout.write(renderLockText(parseLock(text, file)));
  } catch (e) {
    if (!(e instanceof AttestError)) throw e;
    // Keep `git diff` working on a broken side (conflict markers, hand edits): show it raw.
    // Escaped like every other text output: the raw side is outside data shown on a terminal.
    io.stdout.write(`# conda-attest: ${escapeText(e.toLine())}\n${escapeLines(text)}${text.endsWith('\n') ? '' : '\n'}`);
  }
  return 0;
}

export const diffCommand: Command = async (argv, io) => {
  const parsed = parseCommand(argv, DIFF_SPEC);
  const values = parsed.values as {
    format?: string; json?: boolean; lockfile?: string; config?: string; base?: string; color?: boolean;
    'no-color'?: boolean; 'exit-code'?: boolean; textconv?: string; help?: boolean;
  };
  const positionals = parsed.positionals;
  if (values.help) {
    io.stdout.write(renderHelp(DIFF_SPEC));
    return 0;
  }
  if (values.textconv !== undefined) {
    if (positionals.length > 0) {
      throw new UsageError('USAGE_INVALID_ARGUMENT', '--textconv takes exactly one file.', { hint: 'conda-attest diff --textconv FILE' });
    }
    return textconv(values.textconv, io);
  }
  if (positionals.length > 2) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', 'diff takes at most two lockfiles (OLD and NEW).', { hint: 'Run `conda-attest diff --help`.' });
  }
  if (values.base !== undefined && positionals.length > 0) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', '--base and an OLD lockfile cannot be combined.', { hint: 'Use one of them.' });
  }
  const format: Format = chooseFormat(values, DIFF_FORMATS, 'diff');

  // The working-tree lockfile is the one `verify` writes: --lockfile, else the config's
  // `lockfile` (loadConfig falls back to the built-in default ./conda-attest.lock when no
  // config exists). Two explicit files need no config at all, so a broken config cannot
  // stop `diff OLD NEW`.
  const lockfile =
    values.lockfile !== undefined
      ? resolve(io.cwd, values.lockfile)
      : positionals.length === 2
        ? resolve(io.cwd, DEFAULT_LOCKFILE)
        : (await loadConfig({ cwd: io.cwd, configPath: values.config, env: io.env })).lockfile;
  const oldLock =
    positionals.length >= 1 ? await lockFromFile(resolve(io.cwd, positionals[0])) : await lockAtRevision(lockfile, values.base ?? 'HEAD', io.env);
  // The working-tree lockfile may legitimately be absent (deleted, or never written).
  const newLock = positionals.length === 2 ? await lockFromFile(resolve(io.cwd, positionals[1])) : await readLock(lockfile);

  const changes = diffLocks(oldLock, newLock);
  if (format === 'json') io.stdout.write(escapeJsonOutput(JSON.stringify(diffJson(changes), null, 2)) + '\n');
  else if (format === 'markdown') io.stdout.write(renderDiffMarkdown(changes));
  else {
    const color = values['no-color'] ? false : values.color ? true : wantsColor(io, 'stdout');
    io.stdout.write(renderDiffText(changes, { color }));
  }
  return values['exit-code'] && changes.some(isIdentityChange) ? 1 : 0;
};
