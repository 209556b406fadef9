// How the image's launcher runs, decided from the kernel command line only. The command
// line is measured (PCR0/PCR1) and comes with the blob set, so a production image can never
// be talked into development behaviour by anything in the application ramdisk or the host.

export interface LauncherMode {
  /** Serial port to bridge to the service socket (development blob set only). */
  devSerial: string | undefined;
  /** Run without /dev/nsm (only a hand-made development command line asks for it). */
  devNoNsm: boolean;
  development: boolean;
}

export function launcherMode(cmdline: string): LauncherMode {
  const words = cmdline.trim().split(/\s+/);
  const serial = words.map((w) => /^attested_pack\.dev_serial=(ttyS[0-9])$/.exec(w)?.[1]).find((x) => x !== undefined);
  const devNoNsm = words.includes('attested_pack.dev_nsm=none');
  return { devSerial: serial, devNoNsm, development: serial !== undefined || devNoNsm };
}
