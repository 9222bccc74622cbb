/**
 * The CPU's FP32 peak, as the benchmark states it: vCPUs × clock × FP32 lanes per vector ×
 * 2 FMA units per core × 2 flops per FMA (a multiply and an add). The lanes come from the
 * widest vector ISA in /proc/cpuinfo's flags: AVX-512 = 16 (Intel, and AMD from Zen 5, cpu
 * family 26; Zen 4, family 25, runs 512-bit operations on 256-bit datapaths: 8), AVX2 = 8,
 * else SSE = 4. The clock is the nominal one /proc/cpuinfo reports: boost clocks run above
 * it, so a fast engine can show more than 100 % of this peak. Where two vCPUs are
 * hyper-threads of one core the real peak is lower, and the fractions higher.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface CpuPeak {
  gflops: number;
  cpus: number;
  ghz: number;
  lanes: number;
  isa: string;
  model: string;
  derivation: string;
}

export function cpuPeak(): CpuPeak {
  let info = '';
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    /* not Linux: fall back to the defaults below */
  }
  const field = (name: string): string | undefined => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim();
  const flags = new Set((field('flags') ?? '').split(/\s+/));
  const model = field('model name') ?? 'unknown CPU';
  const amd = /AMD/i.test(field('vendor_id') ?? model);
  const nominal = /@\s*([\d.]+)\s*GHz/i.exec(model)?.[1];
  const ghz = nominal ? Number(nominal) : Number(field('cpu MHz') ?? 2000) / 1000;
  const halfWidth = amd && Number(field('cpu family') ?? 0) < 26;
  const [isa, lanes] = flags.has('avx512f') ? ['AVX-512', halfWidth ? 8 : 16] : flags.has('avx2') ? ['AVX2', 8] : ['SSE', 4];
  const cpus = availableParallelism();
  const fmaUnits = 2;
  const gflops = cpus * ghz * lanes * fmaUnits * 2;
  const derivation = `${cpus} vCPUs × ${ghz.toFixed(2)} GHz (nominal) × ${lanes} FP32 lanes (${isa}${isa === 'AVX-512' && halfWidth ? ' on 256-bit datapaths' : ''}) × ${fmaUnits} FMA units × 2 flops (${model})`;
  return { gflops, cpus, ghz, lanes, isa, model, derivation };
}
