import { parseArgs, USAGE, UsageError } from './args';
import { runPostcheck } from './postcheck';

/** `npm run postcheck -- --base-url <url> …` (SPEC §11). */
async function main(): Promise<number> {
  let options;
  try {
    options = parseArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`postcheck: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (options === null) {
    console.log(USAGE);
    return 0;
  }
  const report = await runPostcheck(options, (line) => console.log(line));
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`postcheck: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
