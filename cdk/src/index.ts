// @attested-pack/cdk: the KMS keys (policies from the root package's policy generator) and the
// Nitro Enclaves parent instances.
export { AttestedPackKeys, enclaveRoleArn, type AttestedPackKeysProps } from './keys.ts';
export { AttestedPackReceiptBucket, type AttestedPackReceiptBucketProps } from './receipt-bucket.ts';
export { AttestedPackService, type AttestedPackServiceProps } from './service.ts';
export { parseBuildManifest, type BuildManifest } from '../../verifier/build-manifest.ts';
export { AttestedPackLoadBalancer, type AttestedPackLoadBalancerProps } from './load-balancer.ts';
