# How the keys module is wired. The principals and the pinned PCRs are baked into
# ../attested-pack-keys/keys.tf by `attested-pack policy generate` (KMS needs literal policies
# and `policy lint` reads them back), so the module takes no policy inputs: regenerate it with
#   deploy/terraform/generate-keys.sh build-manifest.json \
#     arn:aws:iam::111122223333:role/attested-pack-enclave \
#     arn:aws:iam::111122223333:role/kms-admin \
#     arn:aws:iam::111122223333:role/clef-runtime \
#     arn:aws:iam::111122223333:role/secrets-editors
# and apply as (or with) the admin principal: KMS refuses a policy that would lock the caller out.
provider "aws" {
  region = "eu-west-1"
}

# The enclave role must exist before the key policies name it (KMS validates principals).
# Here it is the role of the parent instances' instance profile; the CDK AttestedPackService
# or your own instance module creates it with the same name.
resource "aws_iam_role" "enclave" {
  name = "attested-pack-enclave"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.enclave.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "enclave" {
  name = "attested-pack-enclave"
  role = aws_iam_role.enclave.name
}

module "attested_pack_keys" {
  source       = "../attested-pack-keys"
  alias_prefix = "attested-pack"
  depends_on   = [aws_iam_role.enclave]
}

output "sops_key_arn" {
  value = module.attested_pack_keys.sops_key_arn
}
