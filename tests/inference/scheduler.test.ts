import { describe, expect, it } from 'vitest';
import { BatchScheduler, ExecutorCrashedError, QueueFullError, RequestAbortedError, SchedulerClosedError, type Executor } from '../../src/inference/scheduler.js';

/** An executor whose batches finish when the test says so; it echoes input[0] as the "probability". */
class FakeExecutor implements Executor {
  healthy = true;
  readonly batches: number[][] = [];
  private releases: (() => void)[] = [];
  failNext: Error | undefined;

  constructor(readonly name: string) {}

  run(batch: Float32Array, n: number): Promise<Float32Array> {
    const firsts = Array.from({ length: n }, (_, i) => batch[i * 2]!);
    this.batches.push(firsts);
    const fail = this.failNext;
    this.failNext = undefined;
    return new Promise((resolve, reject) => {
      this.releases.push(() => (fail ? reject(fail) : resolve(Float32Array.from(firsts.flatMap((v) => [v, 1 - v])))));
    });
  }

  release(): void {
    for (const r of this.releases.splice(0)) r();
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const input = (v: number) => Float32Array.from([v, 0]);
const options = { maxBatchSize: 4, maxDelayMs: 0, maxQueue: 8, inputSize: 2, numClasses: 2 };

describe('BatchScheduler', () => {
  it('drops queued inputs whose caller gave up (deadline or cancellation) before they run; a running batch finishes', async () => {
    const ex = new FakeExecutor('a');
    const s = new BatchScheduler([ex], { ...options, maxQueue: 2 });
    const running = s.submit(input(0.1));
    const deadline = new AbortController();
    const cancel = new AbortController();
    const late = s.submitAll([input(0.2), input(0.3)], deadline.signal);
    expect(s.stats().queued).toBe(2);
    // Full: a third input is refused until the late ones leave.
    await expect(s.submit(input(0.4), cancel.signal)).rejects.toBeInstanceOf(QueueFullError);
    deadline.abort('deadline');
    await expect(late).rejects.toMatchObject({ why: 'deadline' });
    expect(s.stats()).toMatchObject({ queued: 0, aborted: 2 });
    const kept = s.submit(input(0.5), cancel.signal);
    cancel.abort();
    await expect(kept).rejects.toEqual(new RequestAbortedError('cancelled'));
    await expect(s.submit(input(0.6), cancel.signal)).rejects.toBeInstanceOf(RequestAbortedError);
    ex.release();
    expect((await running)[0]).toBeCloseTo(0.1);
    // Only the first input ever reached the instance.
    expect(ex.batches).toEqual([[Math.fround(0.1)]]);
  });

  it('runs at once when an instance is free, and coalesces what queues meanwhile into batches', async () => {
    const ex = new FakeExecutor('a');
    const s = new BatchScheduler([ex], options);
    const results = [1, 2, 3, 4, 5, 6].map((v) => s.submit(input(v / 10)));
    expect(ex.batches).toEqual([[Math.fround(0.1)]]);
    expect(s.stats().queued).toBe(5);
    ex.release();
    await tick();
    expect(ex.batches[1]).toEqual([0.2, 0.3, 0.4, 0.5].map((v) => Math.fround(v)));
    ex.release();
    await tick();
    ex.release();
    const out = await Promise.all(results);
    expect(out.map((p) => p[0])).toEqual([1, 2, 3, 4, 5, 6].map((v) => Math.fround(v / 10)));
    expect(s.stats()).toMatchObject({ batches: 3, inputs: 6, queued: 0 });
  });

  it('waits up to maxDelayMs for a fuller batch', async () => {
    const ex = new FakeExecutor('a');
    const s = new BatchScheduler([ex], { ...options, maxDelayMs: 30 });
    const a = s.submit(input(0.1));
    const b = s.submit(input(0.2));
    await tick();
    expect(ex.batches).toEqual([]);
    await new Promise((r) => setTimeout(r, 50));
    expect(ex.batches).toHaveLength(1);
    expect(ex.batches[0]).toHaveLength(2);
    ex.release();
    await Promise.all([a, b]);
  });

  it('sends a full batch without waiting for the delay', () => {
    const ex = new FakeExecutor('a');
    const s = new BatchScheduler([ex], { ...options, maxDelayMs: 10_000 });
    for (let i = 0; i < 4; i++) void s.submit(input(i));
    expect(ex.batches).toHaveLength(1);
    expect(ex.batches[0]).toHaveLength(4);
  });

  it('spreads batches over free instances', () => {
    const a = new FakeExecutor('a');
    const b = new FakeExecutor('b');
    const s = new BatchScheduler([a, b], options);
    void s.submit(input(1));
    void s.submit(input(2));
    expect([a.batches.length, b.batches.length]).toEqual([1, 1]);
  });

  it('rejects at once with QueueFullError when the queue is full', async () => {
    const ex = new FakeExecutor('a');
    const s = new BatchScheduler([ex], options);
    const accepted = Array.from({ length: 9 }, (_, i) => s.submit(input(i))); // 1 running + 8 queued
    await expect(s.submit(input(9))).rejects.toBeInstanceOf(QueueFullError);
    await expect(s.submitAll([input(1), input(2)])).rejects.toBeInstanceOf(QueueFullError);
    for (let i = 0; i < 4; i++) {
      ex.release();
      await tick();
    }
    expect(await Promise.all(accepted)).toHaveLength(9);
  });

  it('retries the inputs of a crashed instance once on another, and fails other errors', async () => {
    const a = new FakeExecutor('a');
    const b = new FakeExecutor('b');
    const s = new BatchScheduler([a], options);
    a.failNext = new ExecutorCrashedError('a', 'boom');
    const p = s.submit(input(0.5));
    a.healthy = false;
    s.add(b);
    a.release();
    await tick();
    expect(b.batches).toEqual([[0.5]]);
    b.release();
    expect((await p)[0]).toBe(0.5);

    b.failNext = new Error('model error');
    const q = s.submit(input(0.25));
    b.release();
    await expect(q).rejects.toThrow('model error');
  });

  it('close() fails queued inputs', async () => {
    const ex = new FakeExecutor('a');
    const s = new BatchScheduler([ex], options);
    const running = s.submit(input(1));
    const queued = s.submit(input(2));
    s.close();
    await expect(queued).rejects.toBeInstanceOf(SchedulerClosedError);
    await expect(s.submit(input(3))).rejects.toBeInstanceOf(SchedulerClosedError);
    ex.release();
    expect((await running)[0]).toBe(1);
  });
});
