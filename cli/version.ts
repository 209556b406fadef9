/** The product version, shown by --version (equals package.json's; cli/main.test.ts checks). */
export const VERSION = '0.1.0';
