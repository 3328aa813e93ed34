// Runs the CLI from source (for tests that need a real command line, e.g. a git textconv driver).
import { main } from '../../src/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
