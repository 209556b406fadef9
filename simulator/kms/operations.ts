// The KMS operations the emulator serves (TrentService.<Op>), with the request/response
// shapes of the KMS API reference. Each handler: read input → resolve key → authorize
// against the key policy (with the request's condition keys) → do the crypto.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { blobKeyId, openBlob, sealBlob } from './ciphertext.ts';
import { buildCiphertextForRecipient } from './cms-recipient.ts';
import { signDigestP256, verifyDigestP256 } from './ecdsa-digest.ts';
import { kmsFail } from './errors.ts';
import { b64, encryptionContext, optBlob, optBool, optEnum, optInt, optString, reqBlob, reqString, type Input } from './input.ts';
import { defaultKeyPolicy, evaluateKeyPolicy, parseKeyPolicy, type ConditionValue, type KeyPolicy } from './policy-eval.ts';
import { callerFromArn, principalArnOf } from '../../policy/model/index.ts';
import { readRecipient, recipientConditionKeys, type AttestedRecipient, type RecipientVerifier } from './recipient.ts';
import type { Credentials } from './sigv4.ts';
import type { AliasRecord, KeyRecord, KmsState } from './state.ts';

export interface KmsEnvironment {
  state: KmsState;
  /** Persist `state` (called after every change). */
  save(): void;
  accountId: string;
  region: string;
  verifyRecipient: RecipientVerifier;
  now(): number;
}

export interface CallContext {
  env: KmsEnvironment;
  caller: Credentials;
}

export type Operation = (input: Input, call: CallContext) => Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ALIAS_NAME = /^alias\/[a-zA-Z0-9/_-]+$/;
const policyCache = new WeakMap<KeyRecord, { text: string; parsed: KeyPolicy }>();
const keyObjectCache = new WeakMap<KeyRecord, KeyObject>();

function keyArn(env: KmsEnvironment, keyId: string): string {
  return `arn:aws:kms:${env.region}:${env.accountId}:key/${keyId}`;
}

function aliasArn(env: KmsEnvironment, aliasName: string): string {
  return `arn:aws:kms:${env.region}:${env.accountId}:${aliasName}`;
}

interface ResolvedKey {
  key: KeyRecord;
  /** The alias the caller named, for kms:RequestAlias. */
  alias?: string;
}

function findKey(env: KmsEnvironment, keyId: string): KeyRecord | undefined {
  return env.state.keys.find((k) => k.keyId === keyId);
}

/** Key id, key ARN, alias name or alias ARN → the key (NotFoundException otherwise). */
function resolveKey(env: KmsEnvironment, id: string): ResolvedKey {
  let rest = id;
  if (id.startsWith('arn:')) {
    const m = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):((?:key|alias)\/.+)$/.exec(id);
    if (m === null) kmsFail('NotFoundException', `Invalid arn ${id}`);
    if (m[1] !== env.region || m[2] !== env.accountId) {
      kmsFail('NotFoundException', `${id.includes(':alias/') ? 'Alias' : 'Key'} '${id}' does not exist`);
    }
    rest = m[3] ?? '';
    if (rest.startsWith('key/')) rest = rest.slice(4);
  }
  if (rest.startsWith('alias/')) {
    const alias = env.state.aliases.find((a) => a.aliasName === rest);
    const key = alias === undefined ? undefined : findKey(env, alias.targetKeyId);
    if (key === undefined) kmsFail('NotFoundException', `Alias ${aliasArn(env, rest)} is not found.`);
    return { key, alias: rest };
  }
  if (!UUID.test(rest)) kmsFail('NotFoundException', `Invalid keyId '${id}'`);
  const key = findKey(env, rest);
  if (key === undefined) kmsFail('NotFoundException', `Key '${keyArn(env, rest)}' does not exist`);
  return { key };
}

function policyOf(key: KeyRecord): KeyPolicy {
  const cached = policyCache.get(key);
  if (cached !== undefined && cached.text === key.policy) return cached.parsed;
  const parsed = parseKeyPolicy(key.policy);
  policyCache.set(key, { text: key.policy, parsed });
  return parsed;
}

function accountOf(arn: string): string {
  return /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1] ?? '';
}

const PRINCIPAL_TYPES = { user: 'User', root: 'Account', 'role-session': 'AssumedRole', 'federated-user': 'FederatedUser' } as const;

/** The principal's global condition keys as AWS sets them (aws:PrincipalArn of a session is its role). */
function principalConditions(caller: CallContext['caller']): Record<string, string> {
  const who = callerFromArn(caller.principalArn, caller.roleArn);
  const out: Record<string, string> = {
    'aws:PrincipalArn': principalArnOf(who) ?? caller.principalArn,
    'aws:PrincipalAccount': accountOf(caller.principalArn),
    'kms:CallerAccount': accountOf(caller.principalArn),
  };
  if (who.kind in PRINCIPAL_TYPES) out['aws:PrincipalType'] = PRINCIPAL_TYPES[who.kind as keyof typeof PRINCIPAL_TYPES];
  return out;
}

function baseConditions(call: CallContext, key: KeyRecord): Record<string, ConditionValue | boolean> {
  return {
    ...principalConditions(call.caller),
    'kms:KeySpec': key.keySpec,
    'kms:KeyUsage': key.keyUsage,
    'kms:KeyOrigin': 'AWS_KMS',
    'aws:SecureTransport': true,
  };
}

function contextConditions(ctx: Record<string, string>): Record<string, ConditionValue> {
  const out: Record<string, ConditionValue> = {};
  for (const [k, v] of Object.entries(ctx)) out[`kms:EncryptionContext:${k}`] = v;
  const keys = Object.keys(ctx);
  if (keys.length > 0) out['kms:EncryptionContextKeys'] = keys;
  return out;
}

function roleOf(call: CallContext): { roleArn?: string } {
  return call.caller.roleArn === undefined ? {} : { roleArn: call.caller.roleArn };
}

function authorize(call: CallContext, resolved: ResolvedKey, action: string, extra: Record<string, ConditionValue | boolean> = {}): void {
  const { key } = resolved;
  const context = { ...baseConditions(call, key), ...extra };
  if (resolved.alias !== undefined) context['kms:RequestAlias'] = resolved.alias;
  const arn = keyArn(call.env, key.keyId);
  const decision = evaluateKeyPolicy(policyOf(key), { action, principalArn: call.caller.principalArn, ...roleOf(call), resource: arn, context });
  if (decision.decision === 'allow') return;
  const why = decision.decision === 'deny' ? 'with an explicit deny in a resource-based policy' : `because no resource-based policy allows the ${action} action`;
  kmsFail('AccessDeniedException', `User: ${call.caller.principalArn} is not authorized to perform: ${action} on resource: ${arn} ${why}`);
}

/** Save after a change; when the disk refuses, undo the change so memory matches the file. */
function persist(env: KmsEnvironment, revert: () => void): void {
  try {
    env.save();
  } catch (e) {
    revert();
    kmsFail('KMSInternalException', `The KMS emulator could not save its state: ${(e as Error).message}`);
  }
}

function requireEnabled(env: KmsEnvironment, key: KeyRecord): void {
  if (!key.enabled) kmsFail('DisabledException', `${keyArn(env, key.keyId)} is disabled.`);
}

function requireUsage(env: KmsEnvironment, key: KeyRecord, usage: KeyRecord['keyUsage'], op: string): void {
  if (key.keyUsage !== usage) {
    kmsFail('InvalidKeyUsageException', `You cannot perform this operation on a ${key.keySpec} key with usage ${key.keyUsage} (${op} needs ${usage}): ${keyArn(env, key.keyId)}`);
  }
}

function privateKeyOf(key: KeyRecord): KeyObject {
  let k = keyObjectCache.get(key);
  if (k === undefined) {
    k = createPrivateKey({ key: Buffer.from(key.material), format: 'der', type: 'pkcs8' });
    keyObjectCache.set(key, k);
  }
  return k;
}

function publicSpki(key: KeyRecord): Uint8Array {
  return new Uint8Array(createPublicKey(privateKeyOf(key)).export({ type: 'spki', format: 'der' }));
}

function keyMetadata(env: KmsEnvironment, key: KeyRecord): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    AWSAccountId: env.accountId,
    KeyId: key.keyId,
    Arn: keyArn(env, key.keyId),
    CreationDate: key.creationDate / 1000,
    Enabled: key.enabled,
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.enabled ? 'Enabled' : 'Disabled',
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    MultiRegion: false,
  };
  if (key.keyUsage === 'ENCRYPT_DECRYPT') meta.EncryptionAlgorithms = ['SYMMETRIC_DEFAULT'];
  else meta.SigningAlgorithms = ['ECDSA_SHA_256'];
  return meta;
}

/** KMS's lockout safety check: the caller must still be able to PutKeyPolicy afterwards. */
function lockoutCheck(call: CallContext, policy: KeyPolicy, keyId: string, bypass: boolean | undefined): void {
  if (bypass === true) return;
  const decision = evaluateKeyPolicy(policy, {
    action: 'kms:PutKeyPolicy',
    principalArn: call.caller.principalArn,
    ...roleOf(call),
    resource: keyArn(call.env, keyId),
    context: principalConditions(call.caller),
  });
  if (decision.decision !== 'allow') {
    kmsFail(
      'MalformedPolicyDocumentException',
      'The new key policy will not allow you to update the key policy in the future. (Set BypassPolicyLockoutSafetyCheck to skip this check.)',
    );
  }
}

function recipientResult(recipient: AttestedRecipient | undefined, plaintext: Uint8Array, out: Record<string, unknown>): Record<string, unknown> {
  if (recipient === undefined) return { ...out, Plaintext: b64(plaintext) };
  // With a Recipient, KMS never returns the plaintext itself (Plaintext is null/absent).
  return { ...out, CiphertextForRecipient: b64(buildCiphertextForRecipient(plaintext, recipient.publicKeySpki)) };
}

const createKey: Operation = (input, call) => {
  const { env } = call;
  const keySpec = optEnum(input, 'KeySpec', ['SYMMETRIC_DEFAULT', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512', 'SM2'] as const)
    ?? optEnum(input, 'CustomerMasterKeySpec', ['SYMMETRIC_DEFAULT', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512', 'SM2'] as const)
    ?? 'SYMMETRIC_DEFAULT';
  const keyUsage = optEnum(input, 'KeyUsage', ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const)
    ?? (keySpec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : undefined);
  const origin = optEnum(input, 'Origin', ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const) ?? 'AWS_KMS';
  if (origin !== 'AWS_KMS') kmsFail('UnsupportedOperationException', `Origin ${origin} is not supported by the emulator.`);
  if (keySpec === 'SYMMETRIC_DEFAULT' && keyUsage !== 'ENCRYPT_DECRYPT') {
    kmsFail('ValidationException', `KeyUsage ${keyUsage ?? 'null'} is not compatible with KeySpec SYMMETRIC_DEFAULT`);
  }
  if (keySpec === 'ECC_NIST_P256' && keyUsage !== 'SIGN_VERIFY') {
    kmsFail(keyUsage === undefined ? 'ValidationException' : 'UnsupportedOperationException', `KeySpec ECC_NIST_P256 needs KeyUsage SIGN_VERIFY in this emulator (got ${keyUsage ?? 'none'}).`);
  }
  if (keySpec !== 'SYMMETRIC_DEFAULT' && keySpec !== 'ECC_NIST_P256') {
    kmsFail('UnsupportedOperationException', `KeySpec ${keySpec} is not supported by the emulator (SYMMETRIC_DEFAULT, ECC_NIST_P256).`);
  }
  const description = optString(input, 'Description', 0, 8192) ?? '';
  const keyId = randomUUID();
  const policyText = optString(input, 'Policy', 1, 32768) ?? defaultKeyPolicy(env.accountId);
  const policy = parseKeyPolicy(policyText);
  lockoutCheck(call, policy, keyId, optBool(input, 'BypassPolicyLockoutSafetyCheck'));
  const material =
    keySpec === 'SYMMETRIC_DEFAULT'
      ? new Uint8Array(randomBytes(32))
      : new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'der' }));
  const key: KeyRecord = {
    keyId,
    creationDate: env.now(),
    description,
    keySpec,
    keyUsage: keySpec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : 'SIGN_VERIFY',
    enabled: true,
    policy: policyText,
    material,
  };
  env.state.keys.push(key);
  persist(env, () => {
    env.state.keys = env.state.keys.filter((k) => k !== key);
  });
  return { KeyMetadata: keyMetadata(env, key) };
};

const describeKey: Operation = (input, call) => {
  const resolved = resolveKey(call.env, reqString(input, 'KeyId'));
  authorize(call, resolved, 'kms:DescribeKey');
  return { KeyMetadata: keyMetadata(call.env, resolved.key) };
};

function paginate<T>(items: T[], input: Input): { page: T[]; next?: string } {
  const limit = optInt(input, 'Limit', 1, 1000) ?? 100;
  const marker = optString(input, 'Marker', 1, 1024);
  const start = marker === undefined ? 0 : Number.parseInt(marker, 10);
  if (!Number.isSafeInteger(start) || start < 0 || start > items.length) kmsFail('ValidationException', 'Invalid Marker');
  const page = items.slice(start, start + limit);
  return start + limit < items.length ? { page, next: String(start + limit) } : { page };
}

const listKeys: Operation = (input, call) => {
  const { page, next } = paginate(call.env.state.keys, input);
  return {
    Keys: page.map((k) => ({ KeyId: k.keyId, KeyArn: keyArn(call.env, k.keyId) })),
    Truncated: next !== undefined,
    ...(next === undefined ? {} : { NextMarker: next }),
  };
};

const createAlias: Operation = (input, call) => {
  const { env } = call;
  const aliasName = reqString(input, 'AliasName', 1, 256);
  if (!ALIAS_NAME.test(aliasName)) kmsFail('ValidationException', `1 validation error detected: Value '${aliasName}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$`);
  if (aliasName.startsWith('alias/aws/')) kmsFail('InvalidAliasNameException', 'Alias must not begin with alias/aws/ (reserved for AWS managed keys).');
  const target = reqString(input, 'TargetKeyId');
  if (target.startsWith('alias/') || target.includes(':alias/')) kmsFail('ValidationException', 'TargetKeyId must be a key id or key ARN, not an alias.');
  const resolved = resolveKey(env, target);
  authorize(call, resolved, 'kms:CreateAlias');
  if (env.state.aliases.some((a) => a.aliasName === aliasName)) kmsFail('AlreadyExistsException', `An alias with the name ${aliasArn(env, aliasName)} already exists`);
  const alias: AliasRecord = { aliasName, targetKeyId: resolved.key.keyId, creationDate: env.now() };
  env.state.aliases.push(alias);
  persist(env, () => {
    env.state.aliases = env.state.aliases.filter((a) => a !== alias);
  });
  return {};
};

const listAliases: Operation = (input, call) => {
  const { env } = call;
  const keyFilter = optString(input, 'KeyId');
  let aliases = env.state.aliases;
  if (keyFilter !== undefined) {
    const resolved = resolveKey(env, keyFilter);
    aliases = aliases.filter((a) => a.targetKeyId === resolved.key.keyId);
  }
  const { page, next } = paginate(aliases, input);
  return {
    Aliases: page.map((a) => ({
      AliasName: a.aliasName,
      AliasArn: aliasArn(env, a.aliasName),
      TargetKeyId: a.targetKeyId,
      CreationDate: a.creationDate / 1000,
      LastUpdatedDate: a.creationDate / 1000,
    })),
    Truncated: next !== undefined,
    ...(next === undefined ? {} : { NextMarker: next }),
  };
};

function policyName(input: Input, required: boolean): void {
  const name = required ? reqString(input, 'PolicyName', 1, 128) : optString(input, 'PolicyName', 1, 128);
  if (name !== undefined && name !== 'default') kmsFail('NotFoundException', `No such policy exists: ${name}`);
}

const getKeyPolicy: Operation = (input, call) => {
  const resolved = resolveKey(call.env, reqString(input, 'KeyId'));
  policyName(input, false);
  authorize(call, resolved, 'kms:GetKeyPolicy');
  return { Policy: resolved.key.policy, PolicyName: 'default' };
};

const putKeyPolicy: Operation = (input, call) => {
  const resolved = resolveKey(call.env, reqString(input, 'KeyId'));
  policyName(input, false);
  const text = reqString(input, 'Policy', 1, 32768);
  authorize(call, resolved, 'kms:PutKeyPolicy');
  const policy = parseKeyPolicy(text);
  lockoutCheck(call, policy, resolved.key.keyId, optBool(input, 'BypassPolicyLockoutSafetyCheck'));
  const previous = resolved.key.policy;
  resolved.key.policy = text;
  persist(call.env, () => {
    resolved.key.policy = previous;
  });
  return {};
};

const listKeyPolicies: Operation = (input, call) => {
  const resolved = resolveKey(call.env, reqString(input, 'KeyId'));
  authorize(call, resolved, 'kms:ListKeyPolicies');
  return { PolicyNames: ['default'], Truncated: false };
};

function setEnabled(enabled: boolean, action: string): Operation {
  return (input, call) => {
    const resolved = resolveKey(call.env, reqString(input, 'KeyId'));
    authorize(call, resolved, action);
    const previous = resolved.key.enabled;
    resolved.key.enabled = enabled;
    persist(call.env, () => {
      resolved.key.enabled = previous;
    });
    return {};
  };
}

function encryptionAlgorithm(input: Input): void {
  const alg = optEnum(input, 'EncryptionAlgorithm', ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] as const);
  if (alg !== undefined && alg !== 'SYMMETRIC_DEFAULT') kmsFail('InvalidKeyUsageException', `EncryptionAlgorithm ${alg} is not valid for a SYMMETRIC_DEFAULT key.`);
}

const encrypt: Operation = (input, call) => {
  const { env } = call;
  const resolved = resolveKey(env, reqString(input, 'KeyId'));
  const plaintext = reqBlob(input, 'Plaintext', 1, 4096);
  const ctx = encryptionContext(input);
  encryptionAlgorithm(input);
  authorize(call, resolved, 'kms:Encrypt', { ...contextConditions(ctx), 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' });
  requireEnabled(env, resolved.key);
  requireUsage(env, resolved.key, 'ENCRYPT_DECRYPT', 'Encrypt');
  return {
    CiphertextBlob: b64(sealBlob(resolved.key.keyId, resolved.key.material, plaintext, ctx)),
    KeyId: keyArn(env, resolved.key.keyId),
    EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
  };
};

const decrypt: Operation = (input, call) => {
  const { env } = call;
  const blob = reqBlob(input, 'CiphertextBlob', 1, 6144);
  const ctx = encryptionContext(input);
  encryptionAlgorithm(input);
  const blobKey = blobKeyId(blob);
  const requested = optString(input, 'KeyId');
  let resolved: ResolvedKey;
  if (requested !== undefined) {
    resolved = resolveKey(env, requested);
    if (resolved.key.keyId !== blobKey) {
      kmsFail('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
    }
  } else {
    const key = findKey(env, blobKey);
    if (key === undefined) kmsFail('InvalidCiphertextException', 'The ciphertext refers to a key that does not exist in this account.');
    resolved = { key };
  }
  const recipient = readRecipient(input, env.verifyRecipient);
  authorize(call, resolved, 'kms:Decrypt', {
    ...contextConditions(ctx),
    'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT',
    ...(recipient === undefined ? {} : recipientConditionKeys(recipient)),
  });
  requireEnabled(env, resolved.key);
  requireUsage(env, resolved.key, 'ENCRYPT_DECRYPT', 'Decrypt');
  const plaintext = openBlob(blob, resolved.key.material, ctx);
  return recipientResult(recipient, plaintext, { KeyId: keyArn(env, resolved.key.keyId), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
};

function dataKeyLength(input: Input): number {
  const spec = optEnum(input, 'KeySpec', ['AES_256', 'AES_128'] as const);
  const n = optInt(input, 'NumberOfBytes', 1, 1024);
  if (spec !== undefined && n !== undefined) kmsFail('ValidationException', 'Please specify either number of bytes or key spec, not both.');
  if (spec === undefined && n === undefined) kmsFail('ValidationException', 'Please specify either number of bytes or key spec.');
  return n ?? (spec === 'AES_128' ? 16 : 32);
}

function generateDataKeyOp(withPlaintext: boolean): Operation {
  return (input, call) => {
    const { env } = call;
    const resolved = resolveKey(env, reqString(input, 'KeyId'));
    const length = dataKeyLength(input);
    const ctx = encryptionContext(input);
    const recipient = withPlaintext ? readRecipient(input, env.verifyRecipient) : undefined;
    authorize(call, resolved, withPlaintext ? 'kms:GenerateDataKey' : 'kms:GenerateDataKeyWithoutPlaintext', {
      ...contextConditions(ctx),
      ...(recipient === undefined ? {} : recipientConditionKeys(recipient)),
    });
    requireEnabled(env, resolved.key);
    requireUsage(env, resolved.key, 'ENCRYPT_DECRYPT', 'GenerateDataKey');
    const dataKey = new Uint8Array(randomBytes(length));
    const out = { CiphertextBlob: b64(sealBlob(resolved.key.keyId, resolved.key.material, dataKey, ctx)), KeyId: keyArn(env, resolved.key.keyId) };
    return withPlaintext ? recipientResult(recipient, dataKey, out) : out;
  };
}

const generateRandom: Operation = (input, call) => {
  const n = optInt(input, 'NumberOfBytes', 1, 1024);
  if (n === undefined) kmsFail('ValidationException', 'NumberOfBytes is required.');
  if (optString(input, 'CustomKeyStoreId') !== undefined) kmsFail('UnsupportedOperationException', 'Custom key stores are not supported by the emulator.');
  const recipient = readRecipient(input, call.env.verifyRecipient);
  return recipientResult(recipient, new Uint8Array(randomBytes(n)), {});
};

function signingInput(input: Input): { message: Uint8Array; messageType: 'RAW' | 'DIGEST' } {
  const message = reqBlob(input, 'Message', 1, 4096);
  const messageType = optEnum(input, 'MessageType', ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const) ?? 'RAW';
  const alg = optEnum(input, 'SigningAlgorithm', [
    'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
    'ECDSA_SHA_256', 'ECDSA_SHA_384', 'ECDSA_SHA_512', 'SM2DSA', 'ML_DSA_SHAKE_256',
  ] as const);
  if (alg === undefined) kmsFail('ValidationException', "1 validation error detected: Value null at 'signingAlgorithm' failed to satisfy constraint: Member must not be null");
  if (alg !== 'ECDSA_SHA_256') kmsFail('InvalidKeyUsageException', `SigningAlgorithm ${alg} is not valid for an ECC_NIST_P256 key (ECDSA_SHA_256).`);
  if (messageType === 'EXTERNAL_MU') kmsFail('ValidationException', 'MessageType EXTERNAL_MU is only for ML-DSA keys.');
  if (messageType === 'DIGEST' && message.length !== 32) kmsFail('ValidationException', 'Digest is invalid length for algorithm ECDSA_SHA_256.');
  return { message, messageType };
}

const signOp: Operation = (input, call) => {
  const { env } = call;
  const resolved = resolveKey(env, reqString(input, 'KeyId'));
  const { message, messageType } = signingInput(input);
  authorize(call, resolved, 'kms:Sign', { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': messageType });
  requireEnabled(env, resolved.key);
  requireUsage(env, resolved.key, 'SIGN_VERIFY', 'Sign');
  const priv = privateKeyOf(resolved.key);
  const signature = messageType === 'DIGEST' ? signDigestP256(priv, message) : new Uint8Array(sign('sha256', message, priv));
  return { KeyId: keyArn(env, resolved.key.keyId), Signature: b64(signature), SigningAlgorithm: 'ECDSA_SHA_256' };
};

const verifyOp: Operation = (input, call) => {
  const { env } = call;
  const resolved = resolveKey(env, reqString(input, 'KeyId'));
  const { message, messageType } = signingInput(input);
  const signature = reqBlob(input, 'Signature', 1, 6144);
  authorize(call, resolved, 'kms:Verify', { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': messageType });
  requireEnabled(env, resolved.key);
  requireUsage(env, resolved.key, 'SIGN_VERIFY', 'Verify');
  const pub = createPublicKey(privateKeyOf(resolved.key));
  const digest = messageType === 'DIGEST' ? message : createHash('sha256').update(message).digest();
  let ok: boolean;
  try {
    ok = messageType === 'DIGEST' ? verifyDigestP256(pub, digest, signature) : verify('sha256', message, pub, signature);
  } catch {
    ok = false;
  }
  if (!ok) kmsFail('KMSInvalidSignatureException', '');
  return { KeyId: keyArn(env, resolved.key.keyId), SignatureValid: true, SigningAlgorithm: 'ECDSA_SHA_256' };
};

const getPublicKey: Operation = (input, call) => {
  const { env } = call;
  const resolved = resolveKey(env, reqString(input, 'KeyId'));
  authorize(call, resolved, 'kms:GetPublicKey');
  requireEnabled(env, resolved.key);
  if (resolved.key.keySpec === 'SYMMETRIC_DEFAULT') {
    kmsFail('UnsupportedOperationException', `${keyArn(env, resolved.key.keyId)} key usage is ENCRYPT_DECRYPT which is not valid for GetPublicKey.`);
  }
  return {
    KeyId: keyArn(env, resolved.key.keyId),
    PublicKey: b64(publicSpki(resolved.key)),
    CustomerMasterKeySpec: resolved.key.keySpec,
    KeySpec: resolved.key.keySpec,
    KeyUsage: resolved.key.keyUsage,
    SigningAlgorithms: ['ECDSA_SHA_256'],
  };
};

/** Operations that take `Recipient` (KMS API reference); elsewhere it is refused, not ignored. */
const RECIPIENT_OPERATIONS = new Set(['Decrypt', 'GenerateDataKey', 'GenerateRandom']);

export function checkRecipientAllowed(operation: string, input: Input): void {
  if (input.Recipient !== undefined && input.Recipient !== null && !RECIPIENT_OPERATIONS.has(operation)) {
    kmsFail('ValidationException', `${operation} does not accept a Recipient.`);
  }
}

export const OPERATIONS: Record<string, Operation> = {
  CreateKey: createKey,
  DescribeKey: describeKey,
  ListKeys: listKeys,
  CreateAlias: createAlias,
  ListAliases: listAliases,
  GetKeyPolicy: getKeyPolicy,
  PutKeyPolicy: putKeyPolicy,
  ListKeyPolicies: listKeyPolicies,
  EnableKey: setEnabled(true, 'kms:EnableKey'),
  DisableKey: setEnabled(false, 'kms:DisableKey'),
  Encrypt: encrypt,
  Decrypt: decrypt,
  GenerateDataKey: generateDataKeyOp(true),
  GenerateDataKeyWithoutPlaintext: generateDataKeyOp(false),
  GenerateRandom: generateRandom,
  Sign: signOp,
  Verify: verifyOp,
  GetPublicKey: getPublicKey,
};
