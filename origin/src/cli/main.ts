import { hashCommand } from './hash.ts';

/** The `deoss` command line: one entry point, one module per subcommand. */
const COMMANDS: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  hash: { summary: 'hash FILE [--json] [--cipher ...]   compute a file\'s CESS FID offline', run: hashCommand },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`deoss: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}

function usage(): string {
  const lines = Object.values(COMMANDS).map((c) => `  deoss ${c.summary}`);
  return `usage:\n${lines.join('\n')}\n\nRun 'deoss COMMAND --help' for a command's options.\n`;
}
