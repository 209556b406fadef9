// One connection to the host side of the guest's ttyS1 (QEMU's Unix socket chardev), over
// which requests are asked one at a time in enclave/protocol.ts framing.
import net from 'node:net';
import { encodeFrame, FrameDecoder, parseResponse, type Response } from '../enclave/protocol.ts';

export interface SerialSession {
  ask(request: { id: string; type: string; body: unknown }, timeoutMs?: number): Promise<Response>;
  close(): void;
}

export function serialSession(path: string): Promise<SerialSession> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    const decoder = new FrameDecoder();
    let waiting: ((r: Response) => void) | undefined;
    sock.on('data', (chunk) => {
      for (const message of decoder.push(chunk)) waiting?.(parseResponse(message));
    });
    sock.once('error', reject);
    sock.once('connect', () =>
      resolve({
        ask: (request, timeoutMs = 60_000) =>
          new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`no answer to ${request.type} over ttyS1`)), timeoutMs);
            waiting = (r) => {
              clearTimeout(timer);
              waiting = undefined;
              res(r);
            };
            sock.write(encodeFrame(request));
          }),
        close: () => sock.destroy(),
      }),
    );
  });
}
