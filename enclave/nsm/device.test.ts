// The NSM CBOR codec against hand-assembled bytes (serde's externally tagged encoding, as
// nsm-api produces and expects), and the request/response plumbing over a fake transport.
// The ioctl itself needs /dev/nsm and is not exercised here.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { NsmDeviceError, decodeNsmResponse, encodeNsmRequest, nsmOverTransport, openHardwareNsm } from './device.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const tstr = (s: string) => Buffer.concat([Buffer.from([0x60 + s.length]), Buffer.from(s)]);
const cat = (...parts: Buffer[]) => Buffer.concat(parts);

function errCode(fn: () => unknown): { code: string; nsmCode: string | undefined } {
  try {
    fn();
  } catch (e) {
    if (e instanceof NsmDeviceError) return { code: e.code, nsmCode: e.nsmCode };
    throw e;
  }
  throw new Error('expected NsmDeviceError');
}

describe('NSM request encoding', () => {
  it('encodes Attestation with all three keys, nulls for absent ones', () => {
    const got = Buffer.from(encodeNsmRequest({ kind: 'Attestation', userData: null, nonce: hex('0102'), publicKey: null }));
    const want = cat(hex('a1'), tstr('Attestation'), hex('a3'), tstr('user_data'), hex('f6'), tstr('nonce'), hex('42 0102'), tstr('public_key'), hex('f6'));
    expect(got.toString('hex')).toBe(want.toString('hex'));
  });

  it('encodes unit requests as a bare text string and DescribePCR as a map', () => {
    expect(Buffer.from(encodeNsmRequest({ kind: 'GetRandom' })).toString('hex')).toBe(tstr('GetRandom').toString('hex'));
    expect(Buffer.from(encodeNsmRequest({ kind: 'DescribePCR', index: 3 })).toString('hex')).toBe(
      cat(hex('a1'), tstr('DescribePCR'), hex('a1'), tstr('index'), hex('03')).toString('hex'),
    );
  });

  it('refuses requests over 4096 bytes', () => {
    const big = new Uint8Array(5000);
    expect(errCode(() => encodeNsmRequest({ kind: 'Attestation', userData: big, nonce: null, publicKey: null })).code).toBe('NSM_REQUEST_TOO_LARGE');
  });
});

describe('NSM response decoding', () => {
  it('decodes Attestation, GetRandom and DescribePCR', () => {
    const att = decodeNsmResponse(cat(hex('a1'), tstr('Attestation'), hex('a1'), tstr('document'), hex('43 d28443')));
    expect(att.kind).toBe('Attestation');
    expect(att.kind === 'Attestation' && Buffer.from(att.document).toString('hex')).toBe('d28443');
    const rnd = decodeNsmResponse(cat(hex('a1'), tstr('GetRandom'), hex('a1'), tstr('random'), hex('44 01020304')));
    expect(rnd.kind === 'GetRandom' && Buffer.from(rnd.random).toString('hex')).toBe('01020304');
    const pcr = decodeNsmResponse(cat(hex('a1'), tstr('DescribePCR'), hex('a2'), tstr('lock'), hex('f5'), tstr('data'), hex('42 aabb')));
    expect(pcr.kind === 'DescribePCR' && pcr.lock).toBe(true);
  });

  it('turns {"Error": code} into NSM_ERROR_RESPONSE with the NSM code', () => {
    const e = errCode(() => decodeNsmResponse(cat(hex('a1'), tstr('Error'), tstr('InvalidArgument'))));
    expect(e).toEqual({ code: 'NSM_ERROR_RESPONSE', nsmCode: 'InvalidArgument' });
  });

  it('refuses malformed responses', () => {
    const bad = [
      hex('ff'),
      tstr('Attestation'),
      cat(hex('a1'), tstr('Attestation'), hex('a1'), tstr('document'), tstr('notbytes')),
      cat(hex('a1'), tstr('Surprise'), hex('a0')),
      cat(hex('a2'), tstr('GetRandom'), hex('a0'), tstr('Attestation'), hex('a0')),
    ];
    for (const b of bad) expect(errCode(() => decodeNsmResponse(b)).code).toBe('NSM_MALFORMED_RESPONSE');
  });
});

describe('Nsm over a transport', () => {
  it('collects GetRandom chunks up to the requested length and describes every PCR', async () => {
    const seen: string[] = [];
    let counter = 0;
    const nsm = nsmOverTransport((req) => {
      const r = Buffer.from(req);
      seen.push(r.toString('hex'));
      if (r.equals(tstr('GetRandom'))) return cat(hex('a1'), tstr('GetRandom'), hex('a1'), tstr('random'), hex('45'), Buffer.alloc(5, ++counter));
      if (r.equals(tstr('DescribeNSM'))) {
        return cat(hex('a1'), tstr('DescribeNSM'), hex('a7'), tstr('version_major'), hex('01'), tstr('version_minor'), hex('00'), tstr('version_patch'), hex('00'),
          tstr('module_id'), tstr('i-0'), tstr('max_pcrs'), hex('02'), tstr('locked_pcrs'), hex('80'), tstr('digest'), tstr('SHA384'));
      }
      const index = r[r.length - 1] as number;
      return cat(hex('a1'), tstr('DescribePCR'), hex('a2'), tstr('lock'), hex('f4'), tstr('data'), hex('41'), Buffer.from([index + 0x10]));
    });
    const rnd = await nsm.getRandom(12);
    expect(Buffer.from(rnd).toString('hex')).toBe('0101010101' + '0202020202' + '0303');
    const pcrs = await nsm.describePcrs();
    expect([...pcrs.entries()].map(([i, v]) => [i, Buffer.from(v).toString('hex')])).toEqual([[0, '10'], [1, '11']]);
  });

  it('refuses an answer of the wrong kind', async () => {
    const nsm = nsmOverTransport(() => cat(hex('a1'), tstr('GetRandom'), hex('a1'), tstr('random'), hex('41 00')));
    await expect(nsm.attest({ nonce: new Uint8Array(1) })).rejects.toMatchObject({ code: 'NSM_MALFORMED_RESPONSE' });
  });
});

describe('hardware path plumbing', () => {
  it('refuses a missing device (no silent fallback)', async () => {
    await expect(openHardwareNsm('/nonexistent/nsm')).rejects.toMatchObject({ code: 'NSM_DEVICE_MISSING' });
  });

  // /dev/null answers every ioctl with ENOTTY: the FFI call itself (libc, stable buffers,
  // the iovec pair) runs for real and its failure is reported, without any NSM present.
  it.skipIf(!existsSync('/dev/null'))('issues the ioctl through koffi and reports its errno', async () => {
    const nsm = await openHardwareNsm('/dev/null');
    try {
      await expect(nsm.getRandom(4)).rejects.toMatchObject({ code: 'NSM_IOCTL_FAILED', message: expect.stringContaining('errno 25') });
    } finally {
      await nsm.close();
    }
  });
});
