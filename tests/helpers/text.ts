/** Texts and e-mails for the text-classifier tests (tests/fixtures/text: two hand-written messages). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'text');
export const SPAM_EMAIL = readFileSync(join(FIXTURES, 'spam.eml'));
export const HAM_EMAIL = readFileSync(join(FIXTURES, 'ham.eml'));
export const SPAM_TEXT =
  'Dear friend, you have been selected to receive a FREE credit report and a guaranteed low mortgage rate! Act now: this limited time offer expires soon. Click here to claim your prize, and reply REMOVE to be removed from our mailing list.';
export const HAM_TEXT =
  "Hi Matt, thanks for the patch. I rebuilt the kernel module on Red Hat 7.3 and the test suite passes now; the lock file problem on NFS is gone. I'll check the fix into CVS tonight and send the output to the list.\n\nCheers, Justin";

