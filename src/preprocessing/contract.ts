/** The preprocessing contract: exactly what turns an image file into model input. */
import { z } from 'zod';

const RESIZE_KERNELS = ['nearest', 'linear', 'cubic', 'mitchell', 'lanczos2', 'lanczos3'] as const;
const RESIZE_FITS = ['cover', 'contain', 'fill'] as const;

export const preprocessingContractSchema = z.object({
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  channels: z.literal(3),
  colorSpace: z.literal('srgb'),
  channelOrder: z.literal('RGB'),
  /** NHWC: one image is [H, W, 3] interleaved; NCHW: [3, H, W] planes (PyTorch's order). */
  layout: z.enum(['NHWC', 'NCHW']).default('NHWC'),
  resize: z.object({
    kernel: z.enum(RESIZE_KERNELS),
    fit: z.enum(RESIZE_FITS),
    position: z.literal('centre'),
  }),
  /** Colour that transparent pixels are flattened onto, sRGB 0..255. */
  background: z.tuple([z.number(), z.number(), z.number()]),
  /** input = (pixel · scale − mean[c]) / std[c], per RGB channel. */
  scale: z.number().positive(),
  mean: z.tuple([z.number(), z.number(), z.number()]),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
});

export type PreprocessingContract = z.infer<typeof preprocessingContractSchema>;

/** The contract the CIFAR-10 pipeline starts from; mean and std are measured on the training split. */
export function cifarContract(mean: [number, number, number], std: [number, number, number]): PreprocessingContract {
  return {
    width: 32,
    height: 32,
    channels: 3,
    colorSpace: 'srgb',
    channelOrder: 'RGB',
    layout: 'NHWC',
    resize: { kernel: 'lanczos3', fit: 'cover', position: 'centre' },
    background: [255, 255, 255],
    scale: 1 / 255,
    mean,
    std,
  };
}
