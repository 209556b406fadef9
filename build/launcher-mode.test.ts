import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { launcherMode } from './launcher-mode.ts';
import { DEV_CMDLINE_FLAGS, DEV_NO_NSM_FLAG } from './image-layout.ts';

const NITRO_CMDLINE = 'reboot=k panic=30 pci=off nomodules console=ttyS0 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd random.trust_cpu=on';

describe('launcherMode', () => {
  it('is production for the nitro-cli command line', () => {
    expect(launcherMode(NITRO_CMDLINE)).toEqual({ devSerial: undefined, devNoNsm: false, development: false });
  });

  it('reads the development switches from the development blob set command line', () => {
    const dev = readFileSync(new URL('../reproducible/dev-blobs/cmdline', import.meta.url), 'utf8');
    for (const flag of DEV_CMDLINE_FLAGS) expect(dev.split(/\s+/)).toContain(flag);
    // Hardware NSM mode: the development kernel loads nsm.ko for QEMU's virtio-nsm-pci.
    expect(launcherMode(dev)).toEqual({ devSerial: 'ttyS1', devNoNsm: false, development: true });
  });

  it('still honours the no-NSM switch on a hand-made development command line', () => {
    expect(launcherMode(`${NITRO_CMDLINE} ${DEV_NO_NSM_FLAG}`)).toEqual({ devSerial: undefined, devNoNsm: true, development: true });
  });

  it('matches whole words only', () => {
    expect(launcherMode(`${NITRO_CMDLINE} xattested_pack.dev_nsm=none attested_pack.dev_serial=ttyS1x attested_pack.dev_serial=/dev/sda`).development).toBe(false);
  });
});
