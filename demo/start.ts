// `npm start`: conda-attest on an embedded default, end to end, with nothing from the network.
//
// 1. starts a local Sigstore instance (sigstore's own emulators: Fulcio CA, CT log, Rekor, TSA)
// 2. builds a small conda channel on loopback: attested packages, one unattested, one
//    tampered (the bytes served are not the bytes that were signed), one signed by an
//    unexpected identity
// 3. writes a pixi.lock for that environment and a sample config, and runs
//    `conda-attest verify` on it exactly as a user would, printing what they would see
// 4. shows trust on first use: a package later signed by another repository is flagged
// 5. accepts the change after review and shows the lockfile diff a reviewer sees
// 6. installs through the plugin layer: the download wrapper refuses the tampered package
import { copyFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalSigstore, publishStatement } from '../test/helpers/sigstore.ts';
import { startFixtureChannel } from '../test/helpers/channel.ts';
import { main } from '../src/cli/main.ts';
import type { CliIO } from '../src/cli/io.ts';
import { runPluginDemo } from './plugin-demo.ts';

const FORGE = 'https://github.com/demo-forge';
const san = (repo: string) => `${FORGE}/${repo}/.github/workflows/build.yml@refs/heads/main`;

const bold = process.stdout.isTTY && !process.env.NO_COLOR ? (s: string) => `\x1b[1m${s}\x1b[0m` : (s: string) => s;

function banner(text: string): void {
  process.stdout.write(`\n${bold(`── ${text}`)}\n\n`);
}

async function run(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'conda-attest-demo-'));
  const sigstore = await startLocalSigstore();
  const channel = await startFixtureChannel({
    sigstore,
    name: 'demo-forge',
    subdirs: ['linux-64'],
    packages: [
      { spec: { name: 'zlib', version: '1.3.1', build: 'h4ab18f5_1', subdir: 'linux-64' }, signOptions: { san: san('zlib-feedstock') } },
      { spec: { name: 'libzstd', version: '1.5.6', build: 'ha6fb4c9_0', subdir: 'linux-64' }, signOptions: { san: san('zstd-feedstock') } },
      { spec: { name: 'tzdata', version: '2025b', build: 'h78e105d_0', subdir: 'noarch' }, signOptions: { san: san('tzdata-feedstock') } },
      // No attestation at all.
      { spec: { name: 'legacy-tool', version: '0.9.0', build: 'pyhd8ed1ab_0', subdir: 'noarch' }, attest: false },
      // Signed by an identity the policy does not trust.
      {
        spec: { name: 'fast-json', version: '2.0.1', build: 'h0_0', subdir: 'linux-64' },
        signOptions: { san: 'https://github.com/someone-else/fast-json/.github/workflows/release.yml@refs/tags/v2.0.1' },
      },
      // Placeholder: its attestation is replaced below by one over other bytes.
      { spec: { name: 'openssl', version: '3.4.1', build: 'h7b32b05_0', subdir: 'linux-64' }, attest: false },
    ],
  });
  try {
    // Tampered: the channel serves bytes that are not the ones the publisher signed.
    // The sidecar attests the original bytes' SHA-256; the served file differs.
    const openssl = channel.get('openssl-3.4.1-h7b32b05_0.conda');
    const genuineSha = '0'.repeat(63) + '1';
    channel.appendBundles(openssl.filename, [
      await sigstore.attest(publishStatement({ filename: openssl.filename, sha256: genuineSha, targetChannel: channel.url }), {
        san: san('openssl-feedstock'),
      }),
    ]);

    const config = {
      trust_root: sigstore.trustedRootPath,
      lockfile: 'conda-attest.lock',
      cache_dir: join(work, 'cache'),
      default: { enabled: false },
      channels: {
        [channel.url]: {
          require: 'error',
          trusted_identities: [`${FORGE}/*-feedstock/.github/workflows/*.yml@refs/heads/main`],
        },
      },
    };
    writeFileSync(join(work, '.conda-attestrc.json'), JSON.stringify(config, null, 2));
    writeFileSync(join(work, 'pixi.lock'), channel.pixiLock({ platform: 'linux-64' }));

    const io: CliIO = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: work };
    process.stdout.write('conda-attest demo: a local Sigstore instance and a conda channel, both on 127.0.0.1.\n');
    process.stdout.write(`channel ${channel.url} with ${channel.packages.length} packages; config:\n`);
    process.stdout.write(JSON.stringify(config.channels[channel.url], null, 2).replace(/^/gm, '  ') + '\n');

    banner('$ conda-attest verify            # finds ./pixi.lock');
    let code = await main(['verify'], io);
    process.stdout.write(`\n(exit code ${code}: the tampered, unattested and untrusted packages are blocked)\n`);

    banner('$ conda-attest verify --json | summary');
    const chunks: string[] = [];
    const capture = { ...io, stdout: { write: (s: string) => (chunks.push(s), true), isTTY: false } as unknown as CliIO['stdout'] };
    code = await main(['verify', '--json'], capture);
    const report = JSON.parse(chunks.join('')) as { summary: unknown; packages: { filename: string; status: string; action: string }[] };
    process.stdout.write(JSON.stringify(report.summary) + '\n');
    for (const p of report.packages) process.stdout.write(`  ${p.status.padEnd(17)} ${p.action.padEnd(6)} ${p.filename}\n`);

    banner('Trust on first use: zlib is now also signed from another repository');
    const zlib = channel.get('zlib-1.3.1-h4ab18f5_1.conda');
    channel.appendBundles(zlib.filename, [
      await sigstore.attest(publishStatement({ filename: zlib.filename, sha256: zlib.sha256, targetChannel: channel.url }), {
        san: san('zlib-ng-feedstock'),
        claims: { sourceRepositoryId: '771234', sourceRepositoryOwnerId: '99001' },
      }),
    ]);
    process.stdout.write('$ conda-attest verify --frozen\n');
    code = await main(['verify', '--frozen'], io);
    process.stdout.write(`\n(exit code ${code})\n`);

    banner('$ conda-attest accept zlib --yes    # after review; then the lockfile diff a reviewer sees');
    copyFileSync(join(work, 'conda-attest.lock'), join(work, 'conda-attest.lock.before'));
    code = await main(['accept', 'zlib', '--yes'], io);
    process.stdout.write(`\n$ conda-attest diff conda-attest.lock.before conda-attest.lock --format markdown\n`);
    code = await main(['diff', 'conda-attest.lock.before', 'conda-attest.lock', '--format', 'markdown'], io);

    banner('Install through the plugin layer: mambajs-core with conda-attest around its download step');
    await runPluginDemo({ work, channel, sigstore });
  } finally {
    await channel.close();
    await sigstore.close();
    rmSync(work, { recursive: true, force: true });
  }
}

run().catch((e) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
