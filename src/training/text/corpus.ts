/**
 * A labelled mail corpus laid out as the SpamAssassin data set is: one folder per source,
 * labelled by its name (`easy-ham-1`, `hard-ham-1` → ham; `spam-2` → spam), one raw RFC 822
 * message per file, read as bytes.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SPAM_LABELS = ['ham', 'spam'] as const;

export interface Message {
  /** `<folder>/<file>`. */
  id: string;
  folder: string;
  /** Index in SPAM_LABELS. */
  label: number;
  bytes: Buffer;
}

function labelOf(folder: string): number | undefined {
  if (/(^|[-_])spam([-_]|$)/.test(folder)) return 1;
  if (/(^|[-_])ham([-_]|$)/.test(folder)) return 0;
  return undefined;
}

/** Every message under `root`, in a fixed order (folder, then file name). */
export async function readCorpus(root: string): Promise<Message[]> {
  const folders = (await readdir(root, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && labelOf(e.name) !== undefined)
    .map((e) => e.name)
    .sort();
  if (folders.length === 0) throw new Error(`${root} holds no folder named for ham or spam (easy-ham-1, spam-2, ...)`);
  const messages: Message[] = [];
  for (const folder of folders) {
    const files = (await readdir(join(root, folder))).filter((f) => !f.startsWith('.')).sort();
    for (const file of files) messages.push({ id: `${folder}/${file}`, folder, label: labelOf(folder)!, bytes: await readFile(join(root, folder, file)) });
  }
  return messages;
}

/** The body of a raw message: everything after the header block's empty line, as Latin-1 text (the bytes as received). */
export function bodyOf(bytes: Buffer): string {
  const lf = bytes.indexOf('\n\n');
  const crlf = bytes.indexOf('\r\n\r\n');
  const cut = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : bytes.length;
  return bytes.subarray(cut).toString('latin1');
}
