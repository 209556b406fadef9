variable "alias_prefix" {
  description = "Prefix of the key aliases: alias/<prefix>-sops, -envelope, -signing."
  type        = string
  default     = "attested-pack"
}
