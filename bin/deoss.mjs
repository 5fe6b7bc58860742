#!/usr/bin/env node
// Launcher for the `deoss` command. The project is TypeScript run natively by Node 22 (type stripping), so it
// refuses older Nodes with a clear message instead of a syntax error. `npm run deoss -- …` and `npx deoss …`
// use the Node 22 pinned in package.json.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `deoss needs Node >= 22.18 (this is ${process.version}). Run it through npm: 'npx deoss ...' or 'npm run deoss -- ...'.\n`,
  );
  process.exit(1);
}
const { main } = await import('../origin/src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
