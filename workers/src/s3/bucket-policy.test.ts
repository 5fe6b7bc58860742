import { describe, expect, it } from 'vitest';
import { checkPublicReadPolicy } from './bucket-policy.ts';
import { S3Error } from './errors.ts';

// The policy AWS's static website guide gives (as its CLI examples write it), for the bucket `site`.
const websiteGuide = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'PublicReadGetObject', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::site/*' }],
};

function code(doc: unknown, bucket = 'site'): string {
  try {
    checkPublicReadPolicy(typeof doc === 'string' ? doc : JSON.stringify(doc), bucket);
    return 'ok';
  } catch (err) {
    return (err as S3Error).code;
  }
}

describe('checkPublicReadPolicy', () => {
  it('accepts policies that let everyone read every object of the bucket', () => {
    expect(code(websiteGuide)).toBe('ok');
    expect(code({ Id: 'p', Statement: { Effect: 'Allow', Principal: { AWS: ['*'] }, Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: ['arn:aws:s3:::site/*'] } })).toBe('ok');
  });

  it('refuses every policy that does something else, rather than keeping it unenforced', () => {
    const statement = websiteGuide.Statement[0]!;
    const variant = (change: Record<string, unknown>) => ({ ...websiteGuide, Statement: [{ ...statement, ...change }] });
    expect(code(websiteGuide, 'other')).toBe('NotImplemented');
    expect(code(variant({ Resource: 'arn:aws:s3:::site/public/*' }))).toBe('NotImplemented');
    expect(code(variant({ Action: ['s3:GetObject', 's3:PutObject'] }))).toBe('NotImplemented');
    expect(code(variant({ Action: 's3:*' }))).toBe('NotImplemented');
    expect(code(variant({ Effect: 'Deny' }))).toBe('NotImplemented');
    expect(code(variant({ Principal: { AWS: 'arn:aws:iam::123456789012:root' } }))).toBe('NotImplemented');
    expect(code(variant({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }))).toBe('NotImplemented');
  });

  it('says MalformedPolicy for what is not a policy', () => {
    expect(code('not json')).toBe('MalformedPolicy');
    expect(code([])).toBe('MalformedPolicy');
    expect(code({ Version: '2012-10-17' })).toBe('MalformedPolicy');
    expect(code({ ...websiteGuide, Version: '2020-01-01' })).toBe('MalformedPolicy');
    expect(code({ ...websiteGuide, Statement: ['x'] })).toBe('MalformedPolicy');
    expect(code({ ...websiteGuide, Padding: 'x'.repeat(21_000) })).toBe('MalformedPolicy');
  });
});
