import { describe, expect, it } from 'vitest';
import { parseEdgeVars } from './start-edge.ts';

describe('DEOSS_EDGE_VARS', () => {
  it('passes string values through and JSON values as their JSON text', () => {
    expect(parseEdgeVars(undefined)).toEqual({});
    expect(parseEdgeVars('  ')).toEqual({});
    expect(parseEdgeVars('{"WEBSITE_DOMAINS":"web.test","CUSTOM_DOMAINS":{"www.example.test":"site"}}')).toEqual({
      WEBSITE_DOMAINS: 'web.test',
      CUSTOM_DOMAINS: '{"www.example.test":"site"}',
    });
  });

  it('refuses what is not an object of var names', () => {
    expect(() => parseEdgeVars('{CUSTOM_DOMAINS')).toThrow(/DEOSS_EDGE_VARS is not JSON/);
    expect(() => parseEdgeVars('["CUSTOM_DOMAINS"]')).toThrow(/must be a JSON object/);
    expect(() => parseEdgeVars('"x"')).toThrow(/must be a JSON object/);
    expect(() => parseEdgeVars('{"custom domains":"{}"}')).toThrow(/not a worker var name/);
  });
});
