// Frame codec and message validation of the host ↔ enclave protocol.
import { describe, expect, it } from 'vitest';
import {
  EnclaveProtocolError,
  FrameDecoder,
  MAX_DEADLINE_MS,
  PROTOCOL_VERSION,
  encodeFrame,
  encodeTunnelPreamble,
  parseRequest,
  parseResponse,
  parseTunnelPreamble,
  requestIdOf,
} from './protocol.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof EnclaveProtocolError) return e.code;
    throw e;
  }
  throw new Error('expected an EnclaveProtocolError');
}

const pack = (over: Record<string, unknown> = {}) => ({
  id: 'p1',
  type: 'pack',
  body: {
    identity: 'api',
    environment: 'dev',
    nonce: Buffer.alloc(16),
    commit: 'a'.repeat(40),
    objectFormat: 'sha1',
    objects: [Buffer.from('blob 0\0')],
    credentials: { accessKeyId: 'AKID', secretAccessKey: 's' },
    region: 'eu-west-1',
    ...over,
  },
});

describe('frames', () => {
  it('has the documented layout: u32 BE length, version byte, CBOR', () => {
    const f = Buffer.from(encodeFrame({ id: 'a', type: 'health' }));
    expect(f.readUInt32BE(0)).toBe(f.length - 4);
    expect(f[4]).toBe(PROTOCOL_VERSION);
  });

  it('reassembles frames split at every byte and several frames in one chunk', () => {
    const a = encodeFrame({ id: 'a', type: 'health' });
    const b = encodeFrame({ id: 'b', type: 'describe', body: { nonce: Buffer.from([1, 2, 3]) } });
    const all = Buffer.concat([a, b]);
    const d = new FrameDecoder();
    const got: unknown[] = [];
    for (const byte of all) got.push(...d.push(Buffer.from([byte])));
    expect(got.map((m) => (m as { id: string }).id)).toEqual(['a', 'b']);
    expect(new FrameDecoder().push(all)).toHaveLength(2);
    expect(d.bufferedBytes).toBe(0);
  });

  it('refuses oversize, empty, wrong-version and non-CBOR frames', () => {
    const big = Buffer.alloc(4);
    big.writeUInt32BE(2000);
    expect(code(() => new FrameDecoder(1000).push(big))).toBe('FRAME_TOO_LARGE');
    expect(code(() => new FrameDecoder().push(Buffer.alloc(4)))).toBe('MALFORMED_FRAME');
    expect(code(() => new FrameDecoder().push(encodeFrame({ id: 'a' }, undefined, 9)))).toBe('BAD_VERSION');
    expect(code(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 2, PROTOCOL_VERSION, 0xff])))).toBe('MALFORMED_FRAME');
    expect(code(() => encodeFrame({ blob: Buffer.alloc(100) }, 50))).toBe('FRAME_TOO_LARGE');
  });
});

describe('requests', () => {
  it('accepts a well-formed pack request and caps the deadline', () => {
    const r = parseRequest({ ...pack(), deadlineMs: 10 * MAX_DEADLINE_MS });
    expect(r.type).toBe('pack');
    expect(r.deadlineMs).toBe(MAX_DEADLINE_MS);
  });

  it('refuses malformed requests, naming the request when its id is readable', () => {
    expect(code(() => parseRequest({ type: 'health' }))).toBe('MALFORMED_MESSAGE');
    expect(code(() => parseRequest({ id: 'x y', type: 'health' }))).toBe('MALFORMED_MESSAGE');
    let err: unknown;
    try {
      parseRequest({ id: 'r9', type: 'nope' });
    } catch (e) {
      err = e;
    }
    expect((err as EnclaveProtocolError).code).toBe('UNKNOWN_TYPE');
    expect(requestIdOf(err)).toBe('r9');
    expect(code(() => parseRequest({ id: 'r', type: 'health', deadlineMs: -1 }))).toBe('MALFORMED_MESSAGE');
    expect(code(() => parseRequest(pack({ commit: 'A'.repeat(40) })))).toBe('MALFORMED_MESSAGE');
    expect(code(() => parseRequest(pack({ objectFormat: 'sha256' })))).toBe('MALFORMED_MESSAGE');
    expect(code(() => parseRequest(pack({ objects: ['text'] })))).toBe('MALFORMED_MESSAGE');
    expect(code(() => parseRequest(pack({ credentials: { accessKeyId: 'a' } })))).toBe('MALFORMED_MESSAGE');
    expect(code(() => parseRequest(pack({ options: { 'bad key': 1 } })))).toBe('MALFORMED_MESSAGE');
    expect(code(() => parseRequest(pack({ nonce: Buffer.alloc(600) })))).toBe('MALFORMED_MESSAGE');
    expect(code(() => parseRequest(pack({ objects: [Buffer.alloc(200)] }), 100))).toBe('REQUEST_TOO_LARGE');
  });

  it('passes describe user_data and public_key through, within the NSM limit of 1024 bytes', () => {
    const r = parseRequest({ id: 'd', type: 'describe', body: { nonce: Buffer.from('n'), userData: Buffer.from('u'), publicKey: Buffer.alloc(1024, 7) } });
    expect(r.type === 'describe' && r.body).toEqual({ nonce: Buffer.from('n'), userData: Buffer.from('u'), publicKey: Buffer.alloc(1024, 7) });
    const bare = parseRequest({ id: 'd', type: 'describe', body: { nonce: Buffer.from('n') } });
    expect(bare.type === 'describe' && bare.body).toEqual({ nonce: Buffer.from('n'), userData: null, publicKey: null });
    expect(code(() => parseRequest({ id: 'd', type: 'describe', body: { nonce: Buffer.from('n'), userData: Buffer.alloc(1025) } }))).toBe('MALFORMED_MESSAGE');
    expect(code(() => parseRequest({ id: 'd', type: 'describe', body: { nonce: Buffer.from('n'), publicKey: 'text' } }))).toBe('MALFORMED_MESSAGE');
  });

  it('maps unknown error codes in responses to INTERNAL', () => {
    const r = parseResponse({ id: 'a', ok: false, error: { code: 'SOMETHING_NEW', message: 'm' } });
    expect(r.ok === false && r.error.code).toBe('INTERNAL');
  });
});

describe('tunnel preamble', () => {
  it('round-trips and refuses anything else', () => {
    expect(encodeTunnelPreamble('kms.eu-west-1.amazonaws.com', 443)).toBe('AP-TUNNEL/1 kms.eu-west-1.amazonaws.com 443\n');
    expect(parseTunnelPreamble('AP-TUNNEL/1 KMS.eu-west-1.amazonaws.com 443')).toEqual({ host: 'kms.eu-west-1.amazonaws.com', port: 443 });
    for (const bad of ['CONNECT kms:443 HTTP/1.1', 'AP-TUNNEL/1 kms 0', 'AP-TUNNEL/1 kms 70000', 'AP-TUNNEL/1 a_b 443', 'AP-TUNNEL/2 kms 443', 'AP-TUNNEL/1 kms 443 x']) {
      expect(parseTunnelPreamble(bad)).toBeNull();
    }
    expect(code(() => encodeTunnelPreamble('evil\nhost', 443))).toBe('MALFORMED_MESSAGE');
  });
});
