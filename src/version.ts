import { readFileSync } from 'node:fs';

export interface PackageInfo {
  name: string;
  version: string;
}

let cached: PackageInfo | undefined;

/** Name and version from package.json. */
export function readPackageInfo(): PackageInfo {
  cached ??= JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as PackageInfo;
  return { name: cached.name, version: cached.version };
}
