import { bucketIndex } from '../../namespace/env.ts';
import type { CorsRule } from '../../namespace/types.ts';
import { s3Error } from '../errors.ts';
import { ns } from './common.ts';

/** Does a rule's origin pattern (one `*` wildcard allowed) match? */
function originMatches(pattern: string, origin: string): boolean {
  if (pattern === '*') return true;
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === origin;
  return origin.length >= pattern.length - 1 && origin.startsWith(pattern.slice(0, star)) && origin.endsWith(pattern.slice(star + 1));
}

function headerAllowed(rule: CorsRule, header: string): boolean {
  return (rule.allowedHeaders ?? []).some((p) => originMatches(p.toLowerCase(), header.toLowerCase()));
}

function matchRule(rules: CorsRule[], origin: string, method: string, headers: string[]): CorsRule | undefined {
  return rules.find(
    (r) => r.allowedOrigins.some((o) => originMatches(o, origin)) && (r.allowedMethods as string[]).includes(method) && headers.every((h) => headerAllowed(r, h)),
  );
}

function corsHeaders(rule: CorsRule, origin: string, method: string, requestHeaders?: string[]): Headers {
  const h = new Headers({
    'Access-Control-Allow-Origin': rule.allowedOrigins.includes('*') ? '*' : origin,
    'Access-Control-Allow-Methods': rule.allowedMethods.join(', '),
    Vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  });
  if (!rule.allowedOrigins.includes('*')) h.set('Access-Control-Allow-Credentials', 'true');
  if (requestHeaders?.length) h.set('Access-Control-Allow-Headers', requestHeaders.join(', '));
  if (rule.exposeHeaders?.length) h.set('Access-Control-Expose-Headers', rule.exposeHeaders.join(', '));
  if (rule.maxAgeSeconds !== undefined) h.set('Access-Control-Max-Age', String(rule.maxAgeSeconds));
  void method;
  return h;
}

/** OPTIONS preflight against the bucket's CORS rules: 200 with the allowance, or 403 as S3 answers. */
export async function preflight(env: Parameters<typeof bucketIndex>[0], bucket: string, req: Request): Promise<Response> {
  const origin = req.headers.get('Origin');
  const method = req.headers.get('Access-Control-Request-Method');
  if (!origin || !method) throw s3Error('InvalidRequest' as never, 'Insufficient information. Origin request header needed.');
  const rules = await ns(bucketIndex(env, bucket).getCors()).catch(() => undefined);
  const requested = (req.headers.get('Access-Control-Request-Headers') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const rule = rules && matchRule(rules, origin, method, requested);
  if (!rule) throw s3Error('AccessDenied', 'CORSResponse: This CORS request is not allowed. This is usually because the evaluation of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.');
  return new Response(null, { status: 200, headers: corsHeaders(rule, origin, method, requested) });
}

/** Adds CORS headers to an actual (non-preflight) response when the bucket's rules allow the Origin. */
export async function withCors(env: Parameters<typeof bucketIndex>[0], bucket: string, req: Request, res: Response): Promise<Response> {
  const origin = req.headers.get('Origin');
  if (!origin) return res;
  const rules = await ns(bucketIndex(env, bucket).getCors()).catch(() => undefined);
  const rule = rules && matchRule(rules, origin, req.method === 'HEAD' ? 'HEAD' : req.method, []);
  if (!rule) return res;
  const out = new Response(res.body, res);
  for (const [k, v] of corsHeaders(rule, origin, req.method)) if (k !== 'access-control-allow-methods' && k !== 'access-control-max-age') out.headers.set(k, v);
  return out;
}
