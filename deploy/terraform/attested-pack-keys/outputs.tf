output "sops_key_arn" {
  description = "Put this ARN in .sops.yaml (kms:) so sops encrypts data keys for the enclave."
  value       = aws_kms_key.attested_pack_sops.arn
}

output "envelope_key_arn" {
  description = "Wraps artifact data keys (Clef-compatible envelope); runtimes Decrypt with it."
  value       = aws_kms_key.attested_pack_envelope.arn
}

output "signing_key_arn" {
  description = "Signs artifacts (ECDSA P-256); runtimes fetch its public key."
  value       = aws_kms_key.attested_pack_signing.arn
}

output "aliases" {
  value = [aws_kms_alias.sops.name, aws_kms_alias.envelope.name, aws_kms_alias.signing.name]
}
