// Real tools make the signatures: ssh-keygen for keys and `-Y sign`, git for SSH-signed
// commits; `git verify-commit` confirms the same commits are good to git itself.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthzEdgeError } from './edge-error.ts';
import { splitSignedCommit, verifySshCommitSignature } from './sshsig.ts';

let dir: string;
const env = () => ({
  ...process.env,
  HOME: dir,
  GIT_CONFIG_GLOBAL: join(dir, 'gitconfig'),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Dev',
  GIT_AUTHOR_EMAIL: 'dev@example.test',
  GIT_COMMITTER_NAME: 'Dev',
  GIT_COMMITTER_EMAIL: 'dev@example.test',
  GIT_AUTHOR_DATE: '2026-01-02T03:04:05Z',
  GIT_COMMITTER_DATE: '2026-01-02T03:04:05Z',
});
const run = (cmd: string, args: string[], cwd = dir, input?: Uint8Array) => execFileSync(cmd, args, { cwd, env: env(), ...(input === undefined ? {} : { input }) });
const pub = (name: string) => readFileSync(join(dir, `${name}.pub`), 'utf8').trim();

function keygen(name: string, type: string, bits?: string): void {
  run('ssh-keygen', ['-q', '-t', type, ...(bits === undefined ? [] : ['-b', bits]), '-N', '', '-C', `${name}@test`, '-f', join(dir, name)]);
}

/** A signed commit in a fresh repository; returns its raw body (`git cat-file commit`). */
function signedCommit(repo: string, key: string, format: 'sha1' | 'sha256' = 'sha1'): Uint8Array {
  const cwd = join(dir, repo);
  run('git', ['init', '-q', `--object-format=${format}`, cwd]);
  writeFileSync(join(cwd, 'clef.yaml'), 'version: 1\n');
  run('git', ['add', 'clef.yaml'], cwd);
  run('git', ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${join(dir, key)}`, 'commit', '-q', '-S', '-m', 'signed commit\n\nbody line'], cwd);
  return new Uint8Array(run('git', ['cat-file', 'commit', 'HEAD'], cwd));
}

/** Insert an armored signature as a gpgsig header after the committer line, as git does. */
function withSignatureHeader(unsigned: Uint8Array, armored: string, header = 'gpgsig'): Uint8Array {
  const text = Buffer.from(unsigned).toString('latin1');
  const at = text.indexOf('\n\n') + 1;
  const folded = `${header} ${armored.trimEnd().split('\n').join('\n ')}\n`;
  return new Uint8Array(Buffer.from(text.slice(0, at) + folded + text.slice(at), 'latin1'));
}

let signed = 0;
function signWithNamespace(payload: Uint8Array, key: string, namespace: string): string {
  const file = join(dir, `payload-${++signed}`);
  writeFileSync(file, payload);
  run('ssh-keygen', ['-q', '-Y', 'sign', '-n', namespace, '-f', join(dir, key), file]);
  return readFileSync(`${file}.sig`, 'utf8');
}

function refusal(f: () => unknown): AuthzEdgeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(AuthzEdgeError);
    expect((e as AuthzEdgeError).code).toBe('SSHSIG_INVALID');
    return e as AuthzEdgeError;
  }
  throw new Error('expected SSHSIG_INVALID');
}

let edCommit: Uint8Array;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sshsig-'));
  writeFileSync(join(dir, 'gitconfig'), '');
  keygen('ed', 'ed25519');
  keygen('other', 'ed25519');
  keygen('ec', 'ecdsa', '256');
  keygen('rsa', 'rsa', '2048');
  edCommit = signedCommit('repo-ed', 'ed');
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('verifySshCommitSignature accepts what git signs', () => {
  it('ssh-ed25519: git itself verifies the commit, and so do we, with ssh-keygen\'s fingerprint', () => {
    writeFileSync(join(dir, 'allowed_signers'), `dev@example.test namespaces="git" ${pub('ed')}\n`);
    const verified = run('git', ['-c', `gpg.ssh.allowedSignersFile=${join(dir, 'allowed_signers')}`, 'verify-commit', 'HEAD'], join(dir, 'repo-ed'));
    expect(verified).toBeDefined(); // exit code 0: git says the signature is good
    const fingerprint = run('ssh-keygen', ['-l', '-f', join(dir, 'ed.pub')]).toString('utf8').split(' ')[1];
    expect(verifySshCommitSignature(edCommit, [pub('other'), pub('ed')])).toEqual({ fingerprint });
  });

  it('ecdsa-sha2-nistp256', () => {
    const raw = signedCommit('repo-ec', 'ec');
    const fingerprint = run('ssh-keygen', ['-l', '-f', join(dir, 'ec.pub')]).toString('utf8').split(' ')[1];
    expect(verifySshCommitSignature(raw, [pub('ec')]).fingerprint).toBe(fingerprint);
  });

  it('sha256 repositories sign with gpgsig-sha256; the object format must be named', () => {
    const raw = signedCommit('repo-256', 'ed', 'sha256');
    expect(Buffer.from(raw).toString('latin1')).toContain('\ngpgsig-sha256 -----BEGIN SSH SIGNATURE-----');
    expect(verifySshCommitSignature(raw, [pub('ed')], { objectFormat: 'sha256' }).fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(refusal(() => verifySshCommitSignature(raw, [pub('ed')])).message).toMatch(/another object format/);
  });

  it('the payload is the commit without the signature header, exactly as git signs it', () => {
    const { payload } = splitSignedCommit(edCommit, 'sha1');
    const rebuilt = withSignatureHeader(payload, signWithNamespace(payload, 'ed', 'git'));
    expect(verifySshCommitSignature(rebuilt, [pub('ed')]).fingerprint).toMatch(/^SHA256:/);
  });
});

describe('verifySshCommitSignature refusals (SSHSIG_INVALID)', () => {
  it('wrong namespace (ssh-keygen -Y sign -n file)', () => {
    const { payload } = splitSignedCommit(edCommit, 'sha1');
    const raw = withSignatureHeader(payload, signWithNamespace(payload, 'ed', 'file'));
    expect(refusal(() => verifySshCommitSignature(raw, [pub('ed')])).message).toMatch(/namespace is 'file'/);
  });

  it('a key that is not in the allowed list', () => {
    expect(refusal(() => verifySshCommitSignature(edCommit, [pub('other'), pub('ec')])).message).toMatch(/not an allowed key/);
  });

  it('a tampered commit (message, tree line, added header)', () => {
    const text = Buffer.from(edCommit).toString('latin1');
    for (const tampered of [
      text.replace('signed commit', 'signed commiT'),
      text.replace(/^tree ([0-9a-f])/, (_m, c: string) => `tree ${c === '0' ? '1' : '0'}`),
      text.replace('\ncommitter ', '\nparent 0000000000000000000000000000000000000000\ncommitter '),
    ]) {
      expect(tampered).not.toBe(text);
      const e = refusal(() => verifySshCommitSignature(new Uint8Array(Buffer.from(tampered, 'latin1')), [pub('ed')]));
      expect(e.message).toMatch(/does not verify/);
    }
  });

  it('an unsigned commit', () => {
    const cwd = join(dir, 'repo-unsigned');
    run('git', ['init', '-q', cwd]);
    run('git', ['commit', '-q', '--allow-empty', '-m', 'unsigned'], cwd);
    const raw = new Uint8Array(run('git', ['cat-file', 'commit', 'HEAD'], cwd));
    expect(refusal(() => verifySshCommitSignature(raw, [pub('ed')])).message).toMatch(/not signed/);
  });

  it('truncated or altered armor', () => {
    const text = Buffer.from(edCommit).toString('latin1');
    const cases = [
      text.replace(' -----END SSH SIGNATURE-----\n', ''),
      text.replace('-----BEGIN SSH SIGNATURE-----', '-----BEGIN PGP SIGNATURE-----'),
      text.replace(/\n (U1NIU0lH[A-Za-z0-9+/]{8})/, '\n $1!'),
      text.replace(/\n ([A-Za-z0-9+/=]+)\n -----END/, (_m, l: string) => `\n ${l.slice(0, 8)}\n -----END`),
    ];
    for (const c of cases) refusal(() => verifySshCommitSignature(new Uint8Array(Buffer.from(c, 'latin1')), [pub('ed')]));
  });

  it('two signature headers, or a header section without its blank line', () => {
    const text = Buffer.from(edCommit).toString('latin1');
    const sigStart = text.indexOf('gpgsig ');
    const sigEnd = text.indexOf('-----END SSH SIGNATURE-----\n') + '-----END SSH SIGNATURE-----\n'.length;
    const twice = text.slice(0, sigEnd) + text.slice(sigStart, sigEnd) + text.slice(sigEnd);
    expect(refusal(() => verifySshCommitSignature(new Uint8Array(Buffer.from(twice, 'latin1')), [pub('ed')])).message).toMatch(/more than one/);
    const headersOnly = text.slice(0, sigEnd).replace(/\n$/, '');
    refusal(() => verifySshCommitSignature(new Uint8Array(Buffer.from(headersOnly, 'latin1')), [pub('ed')]));
  });

  it('unsupported key types are refused by name (ssh-rsa), in signatures and in the allowlist', () => {
    const { payload } = splitSignedCommit(edCommit, 'sha1');
    const raw = withSignatureHeader(payload, signWithNamespace(payload, 'rsa', 'git'));
    expect(refusal(() => verifySshCommitSignature(raw, [pub('ed')])).message).toMatch(/'ssh-rsa' is not supported/);
    expect(refusal(() => verifySshCommitSignature(edCommit, [pub('rsa')])).message).toMatch(/'ssh-rsa' is not supported/);
  });

  it('malformed allowlists: empty, options prefix, type/blob mismatch', () => {
    refusal(() => verifySshCommitSignature(edCommit, []));
    refusal(() => verifySshCommitSignature(edCommit, [`restrict ${pub('ed')}`]));
    const [, blob] = pub('ed').split(' ');
    expect(refusal(() => verifySshCommitSignature(edCommit, [`ecdsa-sha2-nistp256 ${blob}`])).message).toMatch(/holds a ssh-ed25519 key/);
  });
});
