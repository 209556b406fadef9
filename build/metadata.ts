// The EIF metadata section (mandatory since EIF v4): compact JSON of EifIdentityInfo
// (image-format src/defs/mod.rs), keys in serde's declaration order. Never measured, so it
// may say anything without moving a PCR — but it does change the EIF's bytes, so BuildTime
// is derived from SOURCE_DATE_EPOCH instead of the wall clock.
import { parseStrictJson } from '../verifier/strict-json.ts';

export interface EifMetadata {
  ImageName: string;
  ImageVersion: string;
  BuildMetadata: {
    BuildTime: string;
    BuildTool: string;
    BuildToolVersion: string;
    OperatingSystem: string;
    KernelVersion: string;
  };
  DockerInfo: unknown;
  CustomMetadata: unknown;
}

export interface MetadataInput {
  imageName: string;
  imageVersion: string;
  sourceDateEpoch: number;
  toolVersion: string;
  kernelVersion: string;
  custom: Record<string, string | number | boolean>;
}

export function buildEifMetadata(input: MetadataInput): Uint8Array {
  const meta: EifMetadata = {
    ImageName: input.imageName,
    ImageVersion: input.imageVersion,
    BuildMetadata: {
      BuildTime: new Date(input.sourceDateEpoch * 1000).toISOString(),
      BuildTool: 'attested-pack',
      BuildToolVersion: input.toolVersion,
      OperatingSystem: 'Linux',
      KernelVersion: input.kernelVersion,
    },
    // No docker image is involved in our build; nitro-cli puts `docker inspect` output here.
    DockerInfo: null,
    CustomMetadata: input.custom,
  };
  return Buffer.from(JSON.stringify(meta), 'utf8');
}

/** Parse a metadata section leniently (describe shows whatever another tool wrote). */
export function parseEifMetadata(bytes: Uint8Array): EifMetadata | { raw: string } {
  const text = Buffer.from(bytes).toString('utf8');
  try {
    // Strict: an ambiguous section (duplicate member, BOM) is shown raw, never interpreted.
    const v: unknown = parseStrictJson(bytes);
    if (typeof v === 'object' && v !== null && 'BuildMetadata' in v) return v as EifMetadata;
  } catch {
    // fall through: not JSON
  }
  return { raw: text };
}

/** "6.1.0-56-amd64"-style version from a kernel .config header ("# Linux/x86 6.1.192 Kernel Configuration"). */
export function kernelVersionFromConfig(config: Uint8Array): string {
  const m = /^# Linux\/\S+ (\S+) Kernel Configuration$/m.exec(Buffer.from(config.subarray(0, 4096)).toString('utf8'));
  return m?.[1] ?? 'unknown';
}
