/** The `deoss` command line: one entry point, one module per subcommand, loaded only when used. */
const COMMANDS: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  hash: {
    summary: "hash FILE [--json] [--cipher ...]   compute a file's CESS FID offline",
    run: async (argv) => (await import('./hash.ts')).hashCommand(argv),
  },
  origin: {
    summary: 'origin [--port N]                   run an origin node (DeOSS API, dispatch, retrieval)',
    run: async (argv) => (await import('./origin.ts')).originCommand(argv),
  },
  start: {
    summary: 'start [--nodes N]                   run the local stack: origin, storage nodes, local chain',
    run: async (argv) => (await import('./start.ts')).startCommand(argv),
  },
  put: {
    summary: 'put FILE [--cipher P] [--wait]      upload a file through a gateway, print its FID',
    run: async (argv) => (await import('./client.ts')).putCommand(argv),
  },
  get: {
    summary: 'get FID [-o FILE]                   download a file by FID',
    run: async (argv) => (await import('./client.ts')).getCommand(argv),
  },
  keys: { summary: 'keys create|list|revoke [...]       manage your S3 access keys at an edge', run: async (argv) => (await import('./keys.ts')).keysCommand(argv) },
  'storage-node': {
    summary: 'storage-node --suri SURI [...]      run a storage node (CESS fragment protocol)',
    run: async (argv) => (await import('./storage-node.ts')).storageNodeCommand(argv),
  },
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
