// Runs the CLI from source (tests spawn this; the published bin runs dist/).
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
