/** Image problems as serving errors: what is wrong with the image decides the code. */
import { ImageError, type ImageErrorCode } from '../../preprocessing/image.js';
import { ServingError, type ErrorCode } from '../../serving/errors.js';

const CODES: Record<ImageErrorCode, [ErrorCode, string]> = {
  empty: ['invalid-input', 'empty-image'],
  not_an_image: ['invalid-input', 'not-an-image'],
  unsupported_format: ['unsupported-media', 'unsupported-image'],
  too_many_pixels: ['unprocessable', 'image-too-large'],
  undecodable: ['unprocessable', 'undecodable-image'],
};

/** Run `work`, turning an ImageError into the serving error it is. */
export async function imageStep<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    const [code, reason] = CODES[err.code];
    throw new ServingError(code, reason, err.message);
  }
}
