/**
 * XML for the S3 API: an escaping builder for responses, a small safe parser for request bodies, and typed readers
 * for the bodies S3 accepts (CompleteMultipartUpload, Delete, CORSConfiguration, WebsiteConfiguration, Tagging,
 * CreateBucketConfiguration).
 *
 * The parser accepts the XML that S3 clients send and nothing more: no DOCTYPE (so no entity expansion or external
 * entities), only the five predefined entities plus numeric character references, bounded size, depth and element
 * count. Anything else throws S3Error MalformedXML.
 *
 * @example
 *   const body = xmlDocument(el('LocationConstraint', 'us-east-1'));
 *   const { parts } = parseCompleteMultipartUpload(await readXmlBody(req.body));
 */
import { S3Error } from './errors.ts';
import { tagSet, type TagSet } from './tags.ts';

export const S3_XML_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Largest XML request body accepted (a CompleteMultipartUpload with 10,000 parts and checksums is about 2.5 MB). */
export const MAX_XML_BODY_BYTES = 4 * 1024 * 1024;
/** Deepest element nesting accepted (S3 bodies nest at most 5 levels). */
export const MAX_XML_DEPTH = 32;
/** Most elements accepted in one document. */
export const MAX_XML_ELEMENTS = 100_000;

// ---------------------------------------------------------------------------------------------------------------
// Builder

/** An element to serialize. Build with `el`. */
export interface XmlNode {
  readonly name: string;
  readonly attrs?: Readonly<Record<string, string>>;
  readonly children: readonly (XmlNode | string)[];
}

/**
 * What `el` accepts as content: text, numbers, booleans, nested elements, arrays of them. Inside arrays
 * null/undefined/false are skipped; a boolean given as an element's whole content is its text.
 */
export type XmlContent = XmlNode | string | number | bigint | boolean | null | undefined | readonly XmlContent[];

/**
 * Builds an element. Text is escaped when serialized; `null`/`undefined` children vanish, so optional fields can be
 * written inline: `el('Owner', [el('ID', id), name ? el('DisplayName', name) : null])`.
 */
export function el(name: string, content?: XmlContent, attrs?: Record<string, string>): XmlNode {
  const children: (XmlNode | string)[] = [];
  // `el('IsTruncated', false)` must say false: an empty <IsTruncated/> breaks strict parsers (Go's ParseBool).
  if (typeof content === 'boolean') children.push(String(content));
  else flatten(content, children);
  return attrs ? { name, attrs, children } : { name, children };
}

function flatten(content: XmlContent, out: (XmlNode | string)[]): void {
  if (content === null || content === undefined || content === false) return;
  if (Array.isArray(content)) {
    for (const c of content as readonly XmlContent[]) flatten(c, out);
  } else if (typeof content === 'object') {
    out.push(content as XmlNode);
  } else {
    out.push(String(content));
  }
}

export interface XmlDocumentOptions {
  /** Namespace set on the root element. @default S3_XML_NAMESPACE; `false` for none (S3 error bodies have none). */
  namespace?: string | false;
}

/** Serializes `root` as a complete document with the XML declaration. */
export function xmlDocument(root: XmlNode, opts: XmlDocumentOptions = {}): string {
  const ns = opts.namespace === undefined ? S3_XML_NAMESPACE : opts.namespace;
  const withNs = ns ? { ...root, attrs: { xmlns: ns, ...root.attrs } } : root;
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + serialize(withNs);
}

/** Serializes an element without a declaration. */
export function serialize(node: XmlNode): string {
  let out = '<' + node.name;
  if (node.attrs) for (const [k, v] of Object.entries(node.attrs)) out += ` ${k}="${escapeXml(v)}"`;
  out += '>';
  for (const c of node.children) out += typeof c === 'string' ? escapeXml(c) : serialize(c);
  return out + '</' + node.name + '>';
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#xD;' };

/**
 * Escapes text for element content or attribute values. Control characters that XML 1.0 cannot carry literally
 * (S3 keys may contain them) are written as character references; strict XML 1.0 parsers still refuse those, which
 * is why SDKs list with `encoding-type=url` (boto3 and the AWS CLI by default). `\r` is escaped so parsers do not
 * normalize it away.
 */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\r\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g, (c) => ESCAPES[c] ?? `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
}

// ---------------------------------------------------------------------------------------------------------------
// Parser

/** A parsed element: local name (namespace prefix dropped), attributes, child elements, and its direct text. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Concatenated direct text and CDATA content, entity-decoded, not trimmed. */
  text: string;
}

export interface XmlParseOptions {
  /** @default MAX_XML_BODY_BYTES */
  maxBytes?: number;
  /** @default MAX_XML_DEPTH */
  maxDepth?: number;
  /** @default MAX_XML_ELEMENTS */
  maxElements?: number;
}

function malformed(detail?: string): S3Error {
  return new S3Error('MalformedXML', detail ? `The XML you provided was not well-formed or did not validate against our published schema: ${detail}` : undefined);
}

const NAME_START = /[A-Za-z_:\u00C0-\uFFFF]/;
const NAME_RE = /[A-Za-z_:\u00C0-\uFFFF][A-Za-z0-9_:.\-\u00B7\u00C0-\uFFFF]*/y;

/** Parses a document into an element tree. Throws S3Error MalformedXML for anything not well-formed or over the limits. */
export function parseXml(input: string | Uint8Array, opts: XmlParseOptions = {}): XmlElement {
  const maxBytes = opts.maxBytes ?? MAX_XML_BODY_BYTES;
  const maxDepth = opts.maxDepth ?? MAX_XML_DEPTH;
  const maxElements = opts.maxElements ?? MAX_XML_ELEMENTS;
  let src: string;
  if (typeof input === 'string') {
    if (input.length > maxBytes) throw new S3Error('MaxMessageLengthExceeded');
    src = input;
  } else {
    if (input.byteLength > maxBytes) throw new S3Error('MaxMessageLengthExceeded');
    try {
      src = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(input);
    } catch {
      throw malformed('not valid UTF-8');
    }
  }
  if (src.charCodeAt(0) === 0xfeff) src = src.slice(1);

  let pos = 0;
  let elements = 0;

  const skipWs = (): void => {
    while (pos < src.length) {
      const c = src.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else break;
    }
  };
  const expect = (s: string): void => {
    if (!src.startsWith(s, pos)) throw malformed(`expected "${s}" at offset ${pos}`);
    pos += s.length;
  };
  const readName = (): string => {
    NAME_RE.lastIndex = pos;
    const m = NAME_RE.exec(src);
    if (!m) throw malformed(`expected a name at offset ${pos}`);
    pos += m[0].length;
    return m[0];
  };
  const localName = (qname: string): string => {
    const i = qname.indexOf(':');
    return i < 0 ? qname : qname.slice(i + 1);
  };
  // Comments, processing instructions and DOCTYPE between markup. Returns true when it consumed something.
  const skipMisc = (): boolean => {
    if (src.startsWith('<!--', pos)) {
      const end = src.indexOf('-->', pos + 4);
      if (end < 0) throw malformed('unterminated comment');
      pos = end + 3;
      return true;
    }
    if (src.startsWith('<?', pos)) {
      const end = src.indexOf('?>', pos + 2);
      if (end < 0) throw malformed('unterminated processing instruction');
      pos = end + 2;
      return true;
    }
    if (src.startsWith('<!DOCTYPE', pos) || src.startsWith('<!doctype', pos)) throw malformed('DOCTYPE is not allowed');
    return false;
  };
  const decodeText = (raw: string): string => {
    if (raw.indexOf('&') < 0) return raw;
    return raw.replace(/&([^;]{0,12});|&/g, (whole, ref: string | undefined) => {
      if (ref === undefined) throw malformed('bare "&" in text');
      switch (ref) {
        case 'lt': return '<';
        case 'gt': return '>';
        case 'amp': return '&';
        case 'quot': return '"';
        case 'apos': return "'";
      }
      let code: number;
      if (/^#x[0-9A-Fa-f]{1,6}$/.test(ref)) code = parseInt(ref.slice(2), 16);
      else if (/^#[0-9]{1,7}$/.test(ref)) code = parseInt(ref.slice(1), 10);
      else throw malformed(`unknown entity ${whole}`);
      if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) || code === 0) throw malformed(`invalid character reference ${whole}`);
      return String.fromCodePoint(code);
    });
  };

  const parseElement = (depth: number): XmlElement => {
    if (depth > maxDepth) throw malformed('nested too deeply');
    if (++elements > maxElements) throw malformed('too many elements');
    expect('<');
    const qname = readName();
    const node: XmlElement = { name: localName(qname), attrs: {}, children: [], text: '' };
    for (;;) {
      const before = pos;
      skipWs();
      if (src.startsWith('/>', pos)) {
        pos += 2;
        return node;
      }
      if (src[pos] === '>') {
        pos++;
        break;
      }
      if (pos === before) throw malformed(`expected whitespace before attribute at offset ${pos}`);
      const attr = readName();
      skipWs();
      expect('=');
      skipWs();
      const quote = src[pos];
      if (quote !== '"' && quote !== "'") throw malformed('attribute value must be quoted');
      const end = src.indexOf(quote, pos + 1);
      if (end < 0) throw malformed('unterminated attribute value');
      const raw = src.slice(pos + 1, end);
      if (raw.includes('<')) throw malformed('"<" in attribute value');
      if (Object.hasOwn(node.attrs, attr)) throw malformed(`duplicate attribute ${attr}`);
      node.attrs[attr] = decodeText(raw);
      pos = end + 1;
    }
    // Content.
    let text = '';
    for (;;) {
      if (pos >= src.length) throw malformed(`unclosed element <${qname}>`);
      const lt = src.indexOf('<', pos);
      if (lt < 0) throw malformed(`unclosed element <${qname}>`);
      if (lt > pos) {
        const raw = src.slice(pos, lt);
        if (raw.includes(']]>')) throw malformed('"]]>" in text');
        text += decodeText(raw);
        pos = lt;
      }
      if (src.startsWith('</', pos)) {
        pos += 2;
        const closing = readName();
        if (closing !== qname) throw malformed(`</${closing}> does not close <${qname}>`);
        skipWs();
        expect('>');
        node.text = text;
        return node;
      }
      if (src.startsWith('<![CDATA[', pos)) {
        const end = src.indexOf(']]>', pos + 9);
        if (end < 0) throw malformed('unterminated CDATA section');
        text += src.slice(pos + 9, end);
        pos = end + 3;
        continue;
      }
      if (skipMisc()) continue;
      if (!NAME_START.test(src[pos + 1] ?? '')) throw malformed(`unexpected "<" at offset ${pos}`);
      node.children.push(parseElement(depth + 1));
    }
  };

  // Prolog.
  for (;;) {
    skipWs();
    if (pos >= src.length) throw malformed('no root element');
    if (!skipMisc()) break;
  }
  if (src[pos] !== '<') throw malformed('text before the root element');
  const root = parseElement(1);
  for (;;) {
    skipWs();
    if (pos >= src.length) break;
    if (!skipMisc()) throw malformed('content after the root element');
  }
  return root;
}

/**
 * Reads a request body whole, refusing bodies over `maxBytes` without buffering them (MaxMessageLengthExceeded). A
 * missing body gives no bytes.
 */
export async function readBodyBytes(
  body: ReadableStream<Uint8Array> | null,
  opts: { maxBytes?: number; signal?: AbortSignal } = {},
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const maxBytes = opts.maxBytes ?? MAX_XML_BODY_BYTES;
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  const onAbort = (): void => void reader.cancel(opts.signal?.reason).catch(() => {});
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      opts.signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new S3Error('MaxMessageLengthExceeded');
      }
      parts.push(value);
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const all = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.byteLength;
  }
  return all;
}

/** Reads a request body as UTF-8 text for XML parsing, at most `maxBytes` (see readBodyBytes). A missing or empty body gives ''. */
export async function readXmlBody(
  body: ReadableStream<Uint8Array> | null,
  opts: { maxBytes?: number; signal?: AbortSignal } = {},
): Promise<string> {
  const all = await readBodyBytes(body, opts);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(all);
  } catch {
    throw malformed('not valid UTF-8');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tree helpers for the readers

function parseRoot(xml: string | Uint8Array | XmlElement, rootName: string): XmlElement {
  const root = typeof xml === 'string' || xml instanceof Uint8Array ? parseXml(xml) : xml;
  if (root.name !== rootName) throw malformed(`expected root element <${rootName}>, got <${root.name}>`);
  return root;
}

function childrenNamed(node: XmlElement, name: string): XmlElement[] {
  return node.children.filter((c) => c.name === name);
}

function only(node: XmlElement, name: string): XmlElement | undefined {
  const found = childrenNamed(node, name);
  if (found.length > 1) throw malformed(`more than one <${name}> in <${node.name}>`);
  return found[0];
}

/** Text of the single child `name`, untrimmed (keys keep their whitespace), or undefined when absent. */
function rawText(node: XmlElement, name: string): string | undefined {
  return only(node, name)?.text;
}

function trimmedText(node: XmlElement, name: string): string | undefined {
  const t = rawText(node, name);
  return t === undefined ? undefined : t.trim();
}

function required(node: XmlElement, name: string): string {
  const t = trimmedText(node, name);
  if (t === undefined || t === '') throw malformed(`<${node.name}> needs a <${name}>`);
  return t;
}

function integer(text: string, what: string): number {
  if (!/^[0-9]{1,10}$/.test(text)) throw malformed(`${what} must be a non-negative integer`);
  return Number(text);
}

function bool(text: string | undefined, what: string): boolean {
  if (text === undefined) return false;
  const t = text.trim().toLowerCase();
  if (t === 'true') return true;
  if (t === 'false') return false;
  throw malformed(`${what} must be true or false`);
}

// ---------------------------------------------------------------------------------------------------------------
// CompleteMultipartUpload

/** Highest part number S3 allows. */
export const MAX_PART_NUMBER = 10_000;

export interface CompletedPart {
  partNumber: number;
  /** ETag as the client sent it, without surrounding quotes. */
  etag: string;
  checksumCRC32?: string;
  checksumCRC32C?: string;
  checksumCRC64NVME?: string;
  checksumSHA1?: string;
  checksumSHA256?: string;
}

/** Removes the quotes S3 puts around ETags (clients send them either way). */
export function unquoteEtag(etag: string): string {
  const t = etag.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

/**
 * Reads a CompleteMultipartUpload body. Parts must be in strictly ascending order (InvalidPartOrder), numbers
 * within 1..10000 (InvalidArgument), at least one part (MalformedXML).
 */
export function parseCompleteMultipartUpload(xml: string | Uint8Array | XmlElement): { parts: CompletedPart[] } {
  const root = parseRoot(xml, 'CompleteMultipartUpload');
  const parts: CompletedPart[] = [];
  for (const p of childrenNamed(root, 'Part')) {
    const partNumber = integer(required(p, 'PartNumber'), 'PartNumber');
    if (partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
        ArgumentName: 'partNumber',
        ArgumentValue: String(partNumber),
      });
    }
    const part: CompletedPart = { partNumber, etag: unquoteEtag(required(p, 'ETag')) };
    for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
      const v = trimmedText(p, `Checksum${alg}`);
      if (v) part[`checksum${alg}`] = v;
    }
    const prev = parts[parts.length - 1];
    if (prev && prev.partNumber >= partNumber) throw new S3Error('InvalidPartOrder');
    parts.push(part);
  }
  if (parts.length === 0) throw malformed('CompleteMultipartUpload needs at least one <Part>');
  return { parts };
}

// ---------------------------------------------------------------------------------------------------------------
// Delete (DeleteObjects)

/** Most keys one DeleteObjects request may name. */
export const MAX_DELETE_OBJECTS = 1000;

export interface DeleteRequest {
  objects: { key: string; versionId?: string }[];
  quiet: boolean;
}

/** Reads a DeleteObjects body: 1..1000 `<Object>` entries, each with a `<Key>` (kept byte-exact, not trimmed). */
export function parseDelete(xml: string | Uint8Array | XmlElement): DeleteRequest {
  const root = parseRoot(xml, 'Delete');
  const quiet = bool(rawText(root, 'Quiet'), 'Quiet');
  const objects = childrenNamed(root, 'Object').map((o) => {
    const key = rawText(o, 'Key');
    if (key === undefined || key === '') throw malformed('<Object> needs a non-empty <Key>');
    const versionId = trimmedText(o, 'VersionId');
    return versionId ? { key, versionId } : { key };
  });
  if (objects.length === 0) throw malformed('Delete needs at least one <Object>');
  if (objects.length > MAX_DELETE_OBJECTS) throw malformed(`Delete names more than ${MAX_DELETE_OBJECTS} objects`);
  return { objects, quiet };
}

// ---------------------------------------------------------------------------------------------------------------
// Versioning

/** A PutBucketVersioning body: `<VersioningConfiguration>` with an optional `<Status>` and `<MfaDelete>`. */
export function parseVersioningConfiguration(xml: string | Uint8Array | XmlElement): { status?: 'Enabled' | 'Suspended'; mfaDelete?: 'Enabled' | 'Disabled' } {
  const root = parseRoot(xml, 'VersioningConfiguration');
  const status = trimmedText(root, 'Status');
  const mfaDelete = trimmedText(root, 'MfaDelete');
  if (status !== undefined && status !== 'Enabled' && status !== 'Suspended') throw malformed('<Status> is Enabled or Suspended');
  if (mfaDelete !== undefined && mfaDelete !== 'Enabled' && mfaDelete !== 'Disabled') throw malformed('<MfaDelete> is Enabled or Disabled');
  return { ...(status ? { status } : {}), ...(mfaDelete ? { mfaDelete } : {}) };
}

/** The four settings of a PublicAccessBlockConfiguration. */
export const PUBLIC_ACCESS_BLOCK_FLAGS = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const;

/**
 * Reads a PutPublicAccessBlock body: which of the four settings it turns on (each is `true` or `false`, absent is
 * false).
 */
export function parsePublicAccessBlock(xml: string | Uint8Array | XmlElement): (typeof PUBLIC_ACCESS_BLOCK_FLAGS)[number][] {
  const root = parseRoot(xml, 'PublicAccessBlockConfiguration');
  for (const child of root.children) {
    if (!(PUBLIC_ACCESS_BLOCK_FLAGS as readonly string[]).includes(child.name)) throw malformed(`<${child.name}> is not a PublicAccessBlockConfiguration setting`);
  }
  return PUBLIC_ACCESS_BLOCK_FLAGS.filter((flag) => {
    const value = trimmedText(root, flag)?.toLowerCase();
    if (value !== undefined && value !== 'true' && value !== 'false') throw malformed(`<${flag}> is true or false`);
    return value === 'true';
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Tagging

/** Reads a PutObjectTagging or PutBucketTagging body: `<Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>`. */
export function parseTagging(xml: string | Uint8Array | XmlElement, maxTags: number): TagSet {
  const root = parseRoot(xml, 'Tagging');
  const set = only(root, 'TagSet');
  if (!set) throw malformed('Tagging needs a <TagSet>');
  // Keys and values are kept as sent (a tag may hold spaces at either end).
  return tagSet(
    childrenNamed(set, 'Tag').map((t): [string, string] => {
      const key = rawText(t, 'Key');
      if (key === undefined) throw malformed('each <Tag> needs a <Key>');
      return [key, rawText(t, 'Value') ?? ''];
    }),
    maxTags,
  );
}

/** The GetObjectTagging / GetBucketTagging body (pass to `xmlDocument`). */
export function taggingXml(tags: TagSet): XmlNode {
  return el('Tagging', [el('TagSet', tags.map(([key, value]) => el('Tag', [el('Key', key), el('Value', value)])))]);
}

// ---------------------------------------------------------------------------------------------------------------
// CORSConfiguration

/** Most rules in one CORS configuration (S3's limit). */
export const MAX_CORS_RULES = 100;
export const CORS_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'] as const;
export type CorsMethod = (typeof CORS_METHODS)[number];

export interface CorsRule {
  id?: string;
  allowedMethods: CorsMethod[];
  allowedOrigins: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

/** Reads a PutBucketCors body. Each rule needs an AllowedMethod and an AllowedOrigin; one `*` per origin/header. */
export function parseCorsConfiguration(xml: string | Uint8Array | XmlElement): CorsRule[] {
  const root = parseRoot(xml, 'CORSConfiguration');
  const rules = childrenNamed(root, 'CORSRule').map((r): CorsRule => {
    const texts = (name: string): string[] => childrenNamed(r, name).map((c) => c.text.trim());
    const allowedMethods = texts('AllowedMethod').map((m) => {
      if (!(CORS_METHODS as readonly string[]).includes(m)) {
        throw new S3Error('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`);
      }
      return m as CorsMethod;
    });
    const allowedOrigins = texts('AllowedOrigin');
    const allowedHeaders = texts('AllowedHeader');
    if (allowedMethods.length === 0 || allowedOrigins.length === 0) throw malformed('each CORSRule needs an AllowedMethod and an AllowedOrigin');
    for (const o of allowedOrigins) {
      if (o.split('*').length > 2) throw new S3Error('InvalidRequest', `AllowedOrigin "${o}" can not have more than one wildcard.`);
    }
    for (const h of allowedHeaders) {
      if (h.split('*').length > 2) throw new S3Error('InvalidRequest', `AllowedHeader "${h}" can not have more than one wildcard.`);
    }
    const rule: CorsRule = { allowedMethods, allowedOrigins, allowedHeaders, exposeHeaders: texts('ExposeHeader') };
    const id = trimmedText(r, 'ID');
    if (id) rule.id = id;
    const maxAge = trimmedText(r, 'MaxAgeSeconds');
    if (maxAge !== undefined && maxAge !== '') rule.maxAgeSeconds = integer(maxAge, 'MaxAgeSeconds');
    return rule;
  });
  if (rules.length === 0) throw malformed('CORSConfiguration needs at least one CORSRule');
  if (rules.length > MAX_CORS_RULES) throw malformed(`CORSConfiguration has more than ${MAX_CORS_RULES} rules`);
  return rules;
}

/** The GetBucketCors body for `rules` (pass to `xmlDocument`). */
export function corsConfigurationXml(rules: readonly CorsRule[]): XmlNode {
  return el(
    'CORSConfiguration',
    rules.map((r) =>
      el('CORSRule', [
        r.id !== undefined ? el('ID', r.id) : null,
        r.allowedHeaders.map((h) => el('AllowedHeader', h)),
        r.allowedMethods.map((m) => el('AllowedMethod', m)),
        r.allowedOrigins.map((o) => el('AllowedOrigin', o)),
        r.exposeHeaders.map((h) => el('ExposeHeader', h)),
        r.maxAgeSeconds !== undefined ? el('MaxAgeSeconds', r.maxAgeSeconds) : null,
      ]),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// WebsiteConfiguration

/** Most routing rules in one website configuration (S3's limit). */
export const MAX_ROUTING_RULES = 50;

export interface RoutingRule {
  condition?: { keyPrefixEquals?: string; httpErrorCodeReturnedEquals?: number };
  redirect: {
    hostName?: string;
    httpRedirectCode?: number;
    protocol?: 'http' | 'https';
    replaceKeyPrefixWith?: string;
    replaceKeyWith?: string;
  };
}

export interface WebsiteConfiguration {
  indexDocument?: { suffix: string };
  errorDocument?: { key: string };
  redirectAllRequestsTo?: { hostName: string; protocol?: 'http' | 'https' };
  routingRules?: RoutingRule[];
}

function protocolOf(text: string | undefined): 'http' | 'https' | undefined {
  if (text === undefined || text === '') return undefined;
  if (text === 'http' || text === 'https') return text;
  throw new S3Error('InvalidArgument', 'Invalid protocol, protocol can be http or https. If not defined the protocol will be selected automatically.');
}

/**
 * Reads a PutBucketWebsite body. Either RedirectAllRequestsTo alone, or an IndexDocument (suffix non-empty, no
 * slash) with optional ErrorDocument and up to 50 RoutingRules.
 */
export function parseWebsiteConfiguration(xml: string | Uint8Array | XmlElement): WebsiteConfiguration {
  const root = parseRoot(xml, 'WebsiteConfiguration');
  const cfg: WebsiteConfiguration = {};
  const redirectAll = only(root, 'RedirectAllRequestsTo');
  const index = only(root, 'IndexDocument');
  const error = only(root, 'ErrorDocument');
  const rules = only(root, 'RoutingRules');
  if (redirectAll) {
    if (index || error || rules) {
      throw new S3Error('InvalidArgument', 'RedirectAllRequestsTo cannot be provided in conjunction with other Routing/Redirect configurations.');
    }
    const hostName = trimmedText(redirectAll, 'HostName');
    if (!hostName) throw malformed('RedirectAllRequestsTo needs a HostName');
    const protocol = protocolOf(trimmedText(redirectAll, 'Protocol'));
    cfg.redirectAllRequestsTo = protocol ? { hostName, protocol } : { hostName };
    return cfg;
  }
  if (!index) throw new S3Error('InvalidArgument', 'A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty');
  const suffix = rawText(index, 'Suffix') ?? '';
  if (suffix === '' || suffix.includes('/')) throw new S3Error('InvalidArgument', 'The IndexDocument Suffix is not well formed');
  cfg.indexDocument = { suffix };
  if (error) {
    const key = rawText(error, 'Key') ?? '';
    if (key === '') throw new S3Error('InvalidArgument', 'The ErrorDocument Key is not well formed');
    cfg.errorDocument = { key };
  }
  if (rules) {
    const list = childrenNamed(rules, 'RoutingRule').map((r): RoutingRule => {
      const rule: RoutingRule = { redirect: {} };
      const cond = only(r, 'Condition');
      if (cond) {
        const c: NonNullable<RoutingRule['condition']> = {};
        const prefix = rawText(cond, 'KeyPrefixEquals');
        if (prefix !== undefined) c.keyPrefixEquals = prefix;
        const code = trimmedText(cond, 'HttpErrorCodeReturnedEquals');
        if (code !== undefined && code !== '') {
          const n = integer(code, 'HttpErrorCodeReturnedEquals');
          if (n < 400 || n > 599) throw new S3Error('InvalidArgument', 'The provided HTTP error code is not valid. Valid codes are 4XX or 5XX.');
          c.httpErrorCodeReturnedEquals = n;
        }
        if (c.keyPrefixEquals === undefined && c.httpErrorCodeReturnedEquals === undefined) {
          throw new S3Error('InvalidArgument', 'Condition cannot be empty. To redirect all requests without a condition, the condition element shouldn\'t be present.');
        }
        rule.condition = c;
      }
      const red = only(r, 'Redirect');
      if (!red) throw malformed('RoutingRule needs a Redirect');
      const hostName = trimmedText(red, 'HostName');
      if (hostName) rule.redirect.hostName = hostName;
      const code = trimmedText(red, 'HttpRedirectCode');
      if (code !== undefined && code !== '') {
        const n = integer(code, 'HttpRedirectCode');
        if (n < 300 || n > 399) throw new S3Error('InvalidArgument', 'The provided HTTP redirect code is not valid. It should be a string containing a number in the 3XX range.');
        rule.redirect.httpRedirectCode = n;
      }
      const protocol = protocolOf(trimmedText(red, 'Protocol'));
      if (protocol) rule.redirect.protocol = protocol;
      const prefixWith = rawText(red, 'ReplaceKeyPrefixWith');
      const keyWith = rawText(red, 'ReplaceKeyWith');
      if (prefixWith !== undefined && keyWith !== undefined) {
        throw new S3Error('InvalidArgument', 'You can only define ReplaceKeyPrefix or ReplaceKey but not both.');
      }
      if (prefixWith !== undefined) rule.redirect.replaceKeyPrefixWith = prefixWith;
      if (keyWith !== undefined) rule.redirect.replaceKeyWith = keyWith;
      return rule;
    });
    if (list.length === 0) throw malformed('RoutingRules needs at least one RoutingRule');
    if (list.length > MAX_ROUTING_RULES) throw new S3Error('InvalidArgument', `The number of routing rules must not exceed ${MAX_ROUTING_RULES}`);
    cfg.routingRules = list;
  }
  return cfg;
}

/** The GetBucketWebsite body for `cfg` (pass to `xmlDocument`). */
export function websiteConfigurationXml(cfg: WebsiteConfiguration): XmlNode {
  const r = cfg.redirectAllRequestsTo;
  return el('WebsiteConfiguration', [
    r ? el('RedirectAllRequestsTo', [el('HostName', r.hostName), r.protocol ? el('Protocol', r.protocol) : null]) : null,
    cfg.indexDocument ? el('IndexDocument', el('Suffix', cfg.indexDocument.suffix)) : null,
    cfg.errorDocument ? el('ErrorDocument', el('Key', cfg.errorDocument.key)) : null,
    cfg.routingRules
      ? el(
          'RoutingRules',
          cfg.routingRules.map((rule) =>
            el('RoutingRule', [
              rule.condition
                ? el('Condition', [
                    rule.condition.httpErrorCodeReturnedEquals !== undefined ? el('HttpErrorCodeReturnedEquals', rule.condition.httpErrorCodeReturnedEquals) : null,
                    rule.condition.keyPrefixEquals !== undefined ? el('KeyPrefixEquals', rule.condition.keyPrefixEquals) : null,
                  ])
                : null,
              el('Redirect', [
                rule.redirect.hostName !== undefined ? el('HostName', rule.redirect.hostName) : null,
                rule.redirect.httpRedirectCode !== undefined ? el('HttpRedirectCode', rule.redirect.httpRedirectCode) : null,
                rule.redirect.protocol !== undefined ? el('Protocol', rule.redirect.protocol) : null,
                rule.redirect.replaceKeyPrefixWith !== undefined ? el('ReplaceKeyPrefixWith', rule.redirect.replaceKeyPrefixWith) : null,
                rule.redirect.replaceKeyWith !== undefined ? el('ReplaceKeyWith', rule.redirect.replaceKeyWith) : null,
              ]),
            ]),
          ),
        )
      : null,
  ]);
}

// ---------------------------------------------------------------------------------------------------------------
// CreateBucketConfiguration

/** Reads a CreateBucket body; an empty body (the common case) means no location constraint. */
export function parseCreateBucketConfiguration(xml: string | Uint8Array | XmlElement): { locationConstraint?: string } {
  if ((typeof xml === 'string' && xml.trim() === '') || (xml instanceof Uint8Array && xml.byteLength === 0)) return {};
  const root = parseRoot(xml, 'CreateBucketConfiguration');
  const lc = trimmedText(root, 'LocationConstraint');
  return lc ? { locationConstraint: lc } : {};
}
