// Runs the CLI from source (tests spawn this; the published bin runs dist/ with the same
// stream handling).
import { main } from './main.ts';

// A reader that stops early (`conda-attest verify --json | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

process.exitCode = await main(process.argv.slice(2));
