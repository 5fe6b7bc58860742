import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AwsClient } from 'aws4fetch';
import { accountFromSuri } from '../chain/accounts.ts';
import { startEdgeProcess, type EdgeProcess, type EdgeRunner } from './edge-process.ts';
import { proofHeaders } from './keys.ts';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/**
 * The edge part of `deoss start`: runs the worker in workerd (or wrangler's dev server) in front of the origins and makes sure the dev
 * account has a working S3 key (the one from the previous run when it still works, else a new one, proven with the
 * dev account's sr25519 key exactly as `deoss keys create` does).
 */
export async function startStackEdge(o: {
  home: string;
  port: number;
  origins: string[];
  edgeSecret: string;
  userSuri: string;
  territory: string;
  /** Extra worker vars (CUSTOM_DOMAINS, WEBSITE_DOMAINS, …); `deoss start` takes them from $DEOSS_EDGE_VARS. */
  vars?: Record<string, string>;
  runner?: EdgeRunner;
}): Promise<{ edge: EdgeProcess; s3: S3Credentials }> {
  const region = o.vars?.S3_REGION ?? 'us-east-1';
  const edge = await startEdgeProcess({
    home: o.home,
    port: o.port,
    origins: o.origins.map((url, i) => ({ url, region: i === 0 ? 'local' : `local-${i + 1}` })),
    edgeSecret: o.edgeSecret,
    vars: { S3_REGION: region, ...o.vars },
    runner: o.runner,
    echo: process.stderr,
  });
  try {
    const previous = await readFile(join(o.home, 'stack.json'), 'utf8').then((t) => JSON.parse(t).s3 as S3Credentials | undefined, () => undefined);
    if (previous && (await works(edge.url, previous))) return { edge, s3: previous };
    const created = await issueS3Key(edge.url, { suri: o.userSuri, territory: o.territory, label: 'deoss start' });
    return { edge, s3: { ...created, region } };
  } catch (err) {
    edge.process.kill('SIGTERM');
    throw err;
  }
}

/** A new S3 key for an account at an edge, proven with its sr25519 key exactly as `deoss keys create` proves it. */
export async function issueS3Key(edgeUrl: string, o: { suri: string; territory: string; label: string }): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const user = await accountFromSuri(o.suri);
  const res = await fetch(`${edgeUrl}/_deoss/keys`, {
    method: 'POST',
    headers: { ...proofHeaders(user, 'keys.create', new URL(edgeUrl).host, 120), 'Content-Type': 'application/json' },
    body: JSON.stringify({ territory: o.territory, label: o.label }),
  });
  if (res.status !== 201) throw new Error(`the edge refused to issue an S3 key: ${res.status} ${await res.text()}`);
  const { accessKeyId, secretAccessKey } = (await res.json()) as { accessKeyId: string; secretAccessKey: string };
  return { accessKeyId, secretAccessKey };
}

/**
 * `DEOSS_EDGE_VARS`: a JSON object of extra worker vars for the local edge, e.g.
 * `{"CUSTOM_DOMAINS":"{\"www.example.test\":\"site\"}"}`. Values may be strings or JSON (objects and arrays are
 * passed on as their JSON text, which is how the worker reads CUSTOM_DOMAINS and EDGE_ORIGINS).
 */
export function parseEdgeVars(text: string | undefined): Record<string, string> {
  if (!text?.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`DEOSS_EDGE_VARS is not JSON: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('DEOSS_EDGE_VARS must be a JSON object of worker vars');
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`DEOSS_EDGE_VARS: ${JSON.stringify(name)} is not a worker var name (A-Z, 0-9, _)`);
    vars[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return vars;
}

/** A signed ListBuckets succeeds with these credentials. */
async function works(edge: string, s3: S3Credentials): Promise<boolean> {
  const client = new AwsClient({ accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region, service: 's3' });
  const res = await client.fetch(`${edge}/`).catch(() => undefined);
  await res?.body?.cancel();
  return res?.status === 200;
}
