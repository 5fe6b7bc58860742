import { describe, expect, it } from 'vitest';
import { S3Error } from './errors.ts';
import {
  corsConfigurationXml, el, escapeXml, parseCompleteMultipartUpload, parseCorsConfiguration,
  parseCreateBucketConfiguration, parseDelete, parsePublicAccessBlock, parseTagging, parseVersioningConfiguration, parseWebsiteConfiguration, parseXml, readXmlBody,
  S3_XML_NAMESPACE, taggingXml, unquoteEtag, websiteConfigurationXml, xmlDocument,
} from './xml.ts';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof S3Error) return e.code;
    throw e;
  }
  throw new Error('did not throw');
}

describe('builder', () => {
  it('escapes text and attributes and skips empty children', () => {
    const doc = xmlDocument(el('ListBucketResult', [el('Name', 'b'), el('Prefix', ''), null, undefined, el('Key', `a&b<c>"d'`), el('MaxKeys', 1000), el('IsTruncated', 'false')]));
    expect(doc).toBe(
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="${S3_XML_NAMESPACE}"><Name>b</Name><Prefix></Prefix>` +
        `<Key>a&amp;b&lt;c&gt;&quot;d&apos;</Key><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`,
    );
    expect(xmlDocument(el('Error', 'x'), { namespace: false })).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<Error>x</Error>');
  });

  it('writes a boolean given as whole content as its text, and still skips false children', () => {
    expect(xmlDocument(el('R', [el('IsTruncated', false), el('IsLatest', true), false && el('Skipped', 'x')]), { namespace: false })).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<R><IsTruncated>false</IsTruncated><IsLatest>true</IsLatest></R>',
    );
  });

  it('writes control characters as references that round-trip', () => {
    expect(escapeXml('a\u0001b\rc')).toBe('a&#x1;b&#xD;c');
    const key = 'weird\u0001\u001f\r\nkey &amp; é 😀';
    const back = parseXml(xmlDocument(el('Key', key)));
    expect(back.text).toBe(key);
  });
});

describe('parser', () => {
  it('parses elements, attributes, entities, CDATA, comments and namespaces', () => {
    const doc = parseXml(
      '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><s3:Root xmlns:s3="x" a=\'1\' b="&lt;&#65;&#x42;"><Child>t &amp; u</Child><Child><![CDATA[<raw>&amp;]]></Child><Empty/></s3:Root>\n<!-- after -->',
    );
    expect(doc.name).toBe('Root');
    expect(doc.attrs).toEqual({ 'xmlns:s3': 'x', a: '1', b: '<AB' });
    expect(doc.children.map((c) => c.name)).toEqual(['Child', 'Child', 'Empty']);
    expect(doc.children[0].text).toBe('t & u');
    expect(doc.children[1].text).toBe('<raw>&amp;');
    expect(doc.children[2].text).toBe('');
  });

  it('accepts bytes and rejects bad UTF-8', () => {
    expect(parseXml(new TextEncoder().encode('<a>é</a>')).text).toBe('é');
    expect(codeOf(() => parseXml(new Uint8Array([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e])))).toBe('MalformedXML');
  });

  it('rejects DOCTYPE, unknown entities and malformed documents', () => {
    const bad = [
      '<!DOCTYPE x [<!ENTITY e "boom">]><a>&e;</a>',
      '<a>&e;</a>',
      '<a>&amp</a>',
      '<a>AT&T</a>',
      '<a>&#0;</a>',
      '<a>&#xD800;</a>',
      '<a><b></a></b>',
      '<a>',
      '<a></a><b></b>',
      'text<a></a>',
      '<a></a>trailing',
      '',
      '<a x="1" x="2"></a>',
      '<a x=1></a>',
      '<a x="1"y="2"></a>',
      '<a>]]></a>',
      '<a><!-- open</a>',
      '<a>< b</a>',
    ];
    for (const x of bad) expect(codeOf(() => parseXml(x)), x).toBe('MalformedXML');
  });

  it('enforces size, depth and element limits', () => {
    expect(codeOf(() => parseXml('<a>' + 'x'.repeat(100) + '</a>', { maxBytes: 50 }))).toBe('MaxMessageLengthExceeded');
    expect(codeOf(() => parseXml('<a>'.repeat(40) + '</a>'.repeat(40)))).toBe('MalformedXML');
    expect(parseXml('<a>'.repeat(10) + '</a>'.repeat(10)).name).toBe('a');
    expect(codeOf(() => parseXml('<r>' + '<i/>'.repeat(20) + '</r>', { maxElements: 10 }))).toBe('MalformedXML');
  });

  it('readXmlBody reads a stream and refuses oversize bodies', async () => {
    const stream = (s: string) => new Response(s).body!;
    expect(await readXmlBody(stream('<a>hi</a>'))).toBe('<a>hi</a>');
    expect(await readXmlBody(null)).toBe('');
    await expect(readXmlBody(stream('x'.repeat(100)), { maxBytes: 10 })).rejects.toMatchObject({ code: 'MaxMessageLengthExceeded' });
  });
});

describe('CompleteMultipartUpload', () => {
  it('reads parts, unquotes ETags and keeps checksums', () => {
    const { parts } = parseCompleteMultipartUpload(
      `<CompleteMultipartUpload xmlns="${S3_XML_NAMESPACE}">
        <Part><PartNumber>1</PartNumber><ETag>"a54357aff0632cce46d942af68356b38"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>
        <Part><ETag>0c78aef83f66abc1fa1e8477f296d394</ETag><PartNumber> 3 </PartNumber></Part>
      </CompleteMultipartUpload>`,
    );
    expect(parts).toEqual([
      { partNumber: 1, etag: 'a54357aff0632cce46d942af68356b38', checksumCRC32: 'AAAAAA==' },
      { partNumber: 3, etag: '0c78aef83f66abc1fa1e8477f296d394' },
    ]);
    expect(unquoteEtag(' "x" ')).toBe('x');
  });

  it('rejects disorder, duplicates, bad numbers and empty lists', () => {
    const body = (parts: string) => `<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>`;
    const part = (n: string) => `<Part><PartNumber>${n}</PartNumber><ETag>e</ETag></Part>`;
    expect(codeOf(() => parseCompleteMultipartUpload(body(part('2') + part('1'))))).toBe('InvalidPartOrder');
    expect(codeOf(() => parseCompleteMultipartUpload(body(part('2') + part('2'))))).toBe('InvalidPartOrder');
    expect(codeOf(() => parseCompleteMultipartUpload(body(part('0'))))).toBe('InvalidArgument');
    expect(codeOf(() => parseCompleteMultipartUpload(body(part('10001'))))).toBe('InvalidArgument');
    expect(codeOf(() => parseCompleteMultipartUpload(body(part('-1'))))).toBe('MalformedXML');
    expect(codeOf(() => parseCompleteMultipartUpload(body(part('1.5'))))).toBe('MalformedXML');
    expect(codeOf(() => parseCompleteMultipartUpload(body('')))).toBe('MalformedXML');
    expect(codeOf(() => parseCompleteMultipartUpload(body('<Part><PartNumber>1</PartNumber></Part>')))).toBe('MalformedXML');
    expect(codeOf(() => parseCompleteMultipartUpload('<Delete></Delete>'))).toBe('MalformedXML');
    expect(parseCompleteMultipartUpload(body(part('10000'))).parts[0].partNumber).toBe(10000);
  });
});

describe('Delete', () => {
  it('reads keys byte-exact, version ids and Quiet', () => {
    const r = parseDelete('<Delete><Quiet>true</Quiet><Object><Key> spaced key </Key></Object><Object><Key>a&amp;b</Key><VersionId>null</VersionId></Object></Delete>');
    expect(r).toEqual({ quiet: true, objects: [{ key: ' spaced key ' }, { key: 'a&b', versionId: 'null' }] });
    expect(parseDelete('<Delete><Object><Key>k</Key></Object></Delete>').quiet).toBe(false);
  });

  it('limits the list to 1..1000 objects with keys', () => {
    const objs = (n: number) => '<Object><Key>k</Key></Object>'.repeat(n);
    expect(parseDelete(`<Delete>${objs(1000)}</Delete>`).objects).toHaveLength(1000);
    expect(codeOf(() => parseDelete(`<Delete>${objs(1001)}</Delete>`))).toBe('MalformedXML');
    expect(codeOf(() => parseDelete('<Delete></Delete>'))).toBe('MalformedXML');
    expect(codeOf(() => parseDelete('<Delete><Object><Key></Key></Object></Delete>'))).toBe('MalformedXML');
    expect(codeOf(() => parseDelete('<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>'))).toBe('MalformedXML');
  });
});

describe('VersioningConfiguration', () => {
  const doc = (inner: string) => `<VersioningConfiguration xmlns="${S3_XML_NAMESPACE}">${inner}</VersioningConfiguration>`;

  it('reads Status and MfaDelete, both optional, and refuses other values', () => {
    expect(parseVersioningConfiguration(doc('<Status>Suspended</Status>'))).toEqual({ status: 'Suspended' });
    expect(parseVersioningConfiguration(doc('<Status>Enabled</Status><MfaDelete>Disabled</MfaDelete>'))).toEqual({ status: 'Enabled', mfaDelete: 'Disabled' });
    expect(parseVersioningConfiguration(doc(''))).toEqual({});
    expect(() => parseVersioningConfiguration(doc('<Status>Off</Status>'))).toThrow(/Enabled or Suspended/);
    expect(() => parseVersioningConfiguration(doc('<MfaDelete>yes</MfaDelete>'))).toThrow(/Enabled or Disabled/);
    expect(() => parseVersioningConfiguration('<Tagging/>')).toThrow();
  });
});

describe('PublicAccessBlockConfiguration', () => {
  const doc = (inner: string) => `<PublicAccessBlockConfiguration xmlns="${S3_XML_NAMESPACE}">${inner}</PublicAccessBlockConfiguration>`;

  it('names the settings turned on, and refuses unknown settings and values', () => {
    const all = (v: string) => ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'].map((f) => `<${f}>${v}</${f}>`).join('');
    expect(parsePublicAccessBlock(doc(all('false')))).toEqual([]);
    expect(parsePublicAccessBlock(doc(''))).toEqual([]);
    expect(parsePublicAccessBlock(doc('<BlockPublicPolicy> TRUE </BlockPublicPolicy><IgnorePublicAcls>false</IgnorePublicAcls>'))).toEqual(['BlockPublicPolicy']);
    expect(parsePublicAccessBlock(doc(all('true')))).toEqual(['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets']);
    expect(codeOf(() => parsePublicAccessBlock(doc('<BlockPublicAcls>yes</BlockPublicAcls>')))).toBe('MalformedXML');
    expect(codeOf(() => parsePublicAccessBlock(doc('<BlockEverything>true</BlockEverything>')))).toBe('MalformedXML');
    expect(codeOf(() => parsePublicAccessBlock('<VersioningConfiguration/>'))).toBe('MalformedXML');
  });
});

describe('Tagging', () => {
  const tagging = (tags: string) => `<Tagging xmlns="${S3_XML_NAMESPACE}"><TagSet>${tags}</TagSet></Tagging>`;
  const tag = (k: string, v?: string) => `<Tag><Key>${k}</Key>${v === undefined ? '' : `<Value>${v}</Value>`}</Tag>`;

  it('reads a tag set as sent and round-trips through the builder', () => {
    const tags = parseTagging(tagging(tag('project', 'deoss edge') + tag(' padded ', '') + tag('empty') + tag('path', '/a+b=c.d_e:f@g-h')), 10);
    expect(tags).toEqual([['project', 'deoss edge'], [' padded ', ''], ['empty', ''], ['path', '/a+b=c.d_e:f@g-h']]);
    expect(parseTagging(xmlDocument(taggingXml(tags)), 10)).toEqual(tags);
    expect(parseTagging(tagging(''), 10)).toEqual([]);
  });

  it('refuses what S3 refuses', () => {
    const eleven = Array.from({ length: 11 }, (_, i) => tag(`k${i}`, 'v')).join('');
    expect(codeOf(() => parseTagging(tagging(eleven), 10))).toBe('InvalidTag');
    expect(parseTagging(tagging(eleven), 50)).toHaveLength(11);
    expect(codeOf(() => parseTagging(tagging(tag('a', '1') + tag('a', '2')), 10))).toBe('InvalidTag');
    expect(codeOf(() => parseTagging(tagging(tag('aws:createdBy', 'me')), 10))).toBe('InvalidTag');
    expect(codeOf(() => parseTagging(tagging(tag('', 'v')), 10))).toBe('InvalidTag');
    expect(codeOf(() => parseTagging(tagging(tag('k', 'a&amp;b')), 10))).toBe('InvalidTag');
    expect(codeOf(() => parseTagging(tagging(tag('k', 'v'.repeat(257))), 10))).toBe('InvalidTag');
    expect(codeOf(() => parseTagging(tagging('<Tag><Value>v</Value></Tag>'), 10))).toBe('MalformedXML');
    expect(codeOf(() => parseTagging('<Tagging></Tagging>', 10))).toBe('MalformedXML');
    expect(codeOf(() => parseTagging('<TagSet></TagSet>', 10))).toBe('MalformedXML');
  });
});

describe('CORSConfiguration', () => {
  const sample = `<CORSConfiguration>
    <CORSRule><ID>r1</ID><AllowedOrigin>http://www.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod>
      <AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>
    <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
  </CORSConfiguration>`;

  it('reads rules and round-trips through the builder', () => {
    const rules = parseCorsConfiguration(sample);
    expect(rules).toEqual([
      { id: 'r1', allowedOrigins: ['http://www.example.com'], allowedMethods: ['PUT', 'POST'], allowedHeaders: ['*'], exposeHeaders: ['ETag'], maxAgeSeconds: 3000 },
      { allowedOrigins: ['*'], allowedMethods: ['GET'], allowedHeaders: [], exposeHeaders: [] },
    ]);
    expect(parseCorsConfiguration(xmlDocument(corsConfigurationXml(rules)))).toEqual(rules);
  });

  it('rejects unsupported methods, missing parts and double wildcards', () => {
    expect(codeOf(() => parseCorsConfiguration('<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>'))).toBe('InvalidRequest');
    expect(codeOf(() => parseCorsConfiguration('<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>'))).toBe('MalformedXML');
    expect(codeOf(() => parseCorsConfiguration('<CORSConfiguration></CORSConfiguration>'))).toBe('MalformedXML');
    expect(codeOf(() => parseCorsConfiguration('<CORSConfiguration><CORSRule><AllowedOrigin>*.*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>'))).toBe('InvalidRequest');
    const many = '<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>'.repeat(101);
    expect(codeOf(() => parseCorsConfiguration(`<CORSConfiguration>${many}</CORSConfiguration>`))).toBe('MalformedXML');
  });
});

describe('WebsiteConfiguration', () => {
  it('reads index, error document and routing rules and round-trips', () => {
    const cfg = parseWebsiteConfiguration(`<WebsiteConfiguration xmlns="${S3_XML_NAMESPACE}">
      <IndexDocument><Suffix>index.html</Suffix></IndexDocument>
      <ErrorDocument><Key>Error.html</Key></ErrorDocument>
      <RoutingRules>
        <RoutingRule><Condition><KeyPrefixEquals>docs/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>documents/</ReplaceKeyPrefixWith></Redirect></RoutingRule>
        <RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
          <Redirect><HostName>ec2.example.com</HostName><Protocol>https</Protocol><HttpRedirectCode>301</HttpRedirectCode><ReplaceKeyWith>404.html</ReplaceKeyWith></Redirect></RoutingRule>
      </RoutingRules></WebsiteConfiguration>`);
    expect(cfg).toEqual({
      indexDocument: { suffix: 'index.html' },
      errorDocument: { key: 'Error.html' },
      routingRules: [
        { condition: { keyPrefixEquals: 'docs/' }, redirect: { replaceKeyPrefixWith: 'documents/' } },
        { condition: { httpErrorCodeReturnedEquals: 404 }, redirect: { hostName: 'ec2.example.com', protocol: 'https', httpRedirectCode: 301, replaceKeyWith: '404.html' } },
      ],
    });
    expect(parseWebsiteConfiguration(xmlDocument(websiteConfigurationXml(cfg)))).toEqual(cfg);
  });

  it('reads RedirectAllRequestsTo alone', () => {
    const cfg = parseWebsiteConfiguration('<WebsiteConfiguration><RedirectAllRequestsTo><HostName>example.com</HostName><Protocol>http</Protocol></RedirectAllRequestsTo></WebsiteConfiguration>');
    expect(cfg).toEqual({ redirectAllRequestsTo: { hostName: 'example.com', protocol: 'http' } });
    expect(parseWebsiteConfiguration(xmlDocument(websiteConfigurationXml(cfg)))).toEqual(cfg);
  });

  it('rejects configurations S3 rejects', () => {
    const w = (inner: string) => `<WebsiteConfiguration>${inner}</WebsiteConfiguration>`;
    const index = '<IndexDocument><Suffix>index.html</Suffix></IndexDocument>';
    expect(codeOf(() => parseWebsiteConfiguration(w('')))).toBe('InvalidArgument');
    expect(codeOf(() => parseWebsiteConfiguration(w('<IndexDocument><Suffix>a/index.html</Suffix></IndexDocument>')))).toBe('InvalidArgument');
    expect(codeOf(() => parseWebsiteConfiguration(w('<IndexDocument><Suffix></Suffix></IndexDocument>')))).toBe('InvalidArgument');
    expect(codeOf(() => parseWebsiteConfiguration(w('<RedirectAllRequestsTo><HostName>x</HostName></RedirectAllRequestsTo>' + index)))).toBe('InvalidArgument');
    expect(codeOf(() => parseWebsiteConfiguration(w('<RedirectAllRequestsTo><HostName>x</HostName><Protocol>ftp</Protocol></RedirectAllRequestsTo>')))).toBe('InvalidArgument');
    expect(codeOf(() => parseWebsiteConfiguration(w(index + '<RoutingRules><RoutingRule><Redirect><ReplaceKeyWith>a</ReplaceKeyWith><ReplaceKeyPrefixWith>b</ReplaceKeyPrefixWith></Redirect></RoutingRule></RoutingRules>')))).toBe('InvalidArgument');
    expect(codeOf(() => parseWebsiteConfiguration(w(index + '<RoutingRules><RoutingRule><Redirect><HttpRedirectCode>200</HttpRedirectCode></Redirect></RoutingRule></RoutingRules>')))).toBe('InvalidArgument');
    expect(codeOf(() => parseWebsiteConfiguration(w(index + '<RoutingRules><RoutingRule><Condition></Condition><Redirect><HostName>h</HostName></Redirect></RoutingRule></RoutingRules>')))).toBe('InvalidArgument');
    expect(codeOf(() => parseWebsiteConfiguration(w(index + '<RoutingRules><RoutingRule></RoutingRule></RoutingRules>')))).toBe('MalformedXML');
    const rules = '<RoutingRule><Redirect><HostName>h</HostName></Redirect></RoutingRule>'.repeat(51);
    expect(codeOf(() => parseWebsiteConfiguration(w(index + `<RoutingRules>${rules}</RoutingRules>`)))).toBe('InvalidArgument');
  });
});

describe('CreateBucketConfiguration', () => {
  it('reads the location constraint; empty body means none', () => {
    expect(parseCreateBucketConfiguration('<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>')).toEqual({ locationConstraint: 'eu-west-1' });
    expect(parseCreateBucketConfiguration('')).toEqual({});
    expect(parseCreateBucketConfiguration('  \n')).toEqual({});
    expect(parseCreateBucketConfiguration(new Uint8Array())).toEqual({});
    expect(parseCreateBucketConfiguration('<CreateBucketConfiguration/>')).toEqual({});
    expect(codeOf(() => parseCreateBucketConfiguration('<Bucket/>'))).toBe('MalformedXML');
  });
});
