package tinyllm.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import tinyllm.kernels.Simd;
import tinyllm.runtime.WorkerPool;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.LE;

/**
 * The machine's limits, measured in the same run as the engine so that the engine's speed can be
 * stated as a fraction of them: DRAM read bandwidth (the decode roofline) and the fp32 FMA peak at
 * the engine's vector width (the prefill ceiling).
 */
public final class MachineProbe {
    /** Several times any last-level cache here, so the sum streams from DRAM. */
    public static final long BANDWIDTH_BYTES = 1L << 30;

    private MachineProbe() {}

    /** Best-of-{@code repeats} read bandwidth in GB/s of anonymous memory, {@code threads} threads splitting the buffer. */
    public static double readBandwidth(int threads, int repeats) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buffer = arena.allocate(BANDWIDTH_BYTES, 64);
            buffer.fill((byte) 1); // touch every page so the measurement reads memory, not page faults
            return readBandwidth(buffer, threads, repeats);
        }
    }

    /**
     * Best-of-{@code repeats} read bandwidth in GB/s of {@code segment} (a mapped checkpoint's parameters: mapped
     * 4 KB pages can read slower than anonymous memory, and decode reads exactly those), {@code threads} threads
     * each summing one contiguous part of it.
     */
    public static double readBandwidth(MemorySegment segment, int threads, int repeats) {
        try (SegmentReader reader = new SegmentReader(segment, threads)) {
            double best = 0;
            for (int r = 0; r < repeats; r++) {
                best = Math.max(best, reader.gbPerSecond());
            }
            return best;
        }
    }

    /**
     * Reads a segment whole, as often as asked, on threads of its own, compiled and warmed once: for reading the
     * rate between other measurements (the bench pairs it with decode steps, since on a shared host the rate of
     * memory moves by 2x from one minute to the next, and a roofline read minutes apart says little).
     */
    public static final class SegmentReader implements AutoCloseable {
        private final WorkerPool pool;
        private final SumTask task;

        public SegmentReader(MemorySegment segment, int threads) {
            this.pool = new WorkerPool(threads);
            // Compile the loop on a slice first; a cold first pass would measure the interpreter.
            SumTask warm = new SumTask(segment.asSlice(0, Math.min(segment.byteSize(), 1 << 24)));
            for (int i = 0; i < 200; i++) {
                pool.run(warm);
            }
            this.task = new SumTask(segment);
            pool.run(task); // once more over the whole: page-cache misses and TLB setup, not the steady rate
        }

        /** One read of the whole segment, in GB/s. */
        public double gbPerSecond() {
            long start = System.nanoTime();
            pool.run(task);
            return task.bytes() / (double) (System.nanoTime() - start);
        }

        @Override
        public void close() {
            pool.close();
        }
    }

    /** Best-of-{@code repeats} fp32 FMA throughput in GFLOP/s at the engine's vector width. */
    public static double fmaPeak(int threads, int repeats) {
        try (WorkerPool pool = new WorkerPool(threads)) {
            FmaTask warm = new FmaTask(100_000);
            for (int i = 0; i < 200; i++) {
                pool.run(warm);
            }
            FmaTask task = new FmaTask(500_000_000 / Simd.LANES);
            double best = 0;
            for (int r = 0; r < repeats; r++) {
                long start = System.nanoTime();
                pool.run(task);
                double flops = 2.0 * FmaTask.CHAINS * Simd.LANES * task.iterations * threads;
                best = Math.max(best, flops / (System.nanoTime() - start));
            }
            return best;
        }
    }

    /**
     * Sums a segment, each worker its own contiguous part, with eight independent vector accumulators (four
     * left the loads' latency exposed: ~4 % slower in one A/B) and a long induction variable over its slice.
     */
    private static final class SumTask implements WorkerPool.Task {
        static final int UNROLL = 8;
        private final MemorySegment segment;
        private final long vectors; // whole blocks of UNROLL vectors in the segment
        volatile float sink;

        SumTask(MemorySegment segment) {
            this.segment = segment;
            this.vectors = segment.byteSize() / F.vectorByteSize() / UNROLL * UNROLL;
        }

        long bytes() {
            return vectors * F.vectorByteSize();
        }

        @Override
        public void run(int worker, int workers) {
            long v = F.vectorByteSize();
            long blocks = vectors / UNROLL;
            long from = blocks * worker / workers * UNROLL * v, to = blocks * (worker + 1) / workers * UNROLL * v;
            MemorySegment part = segment.asSlice(from, to - from);
            long size = part.byteSize();
            FloatVector a = FloatVector.zero(F), b = a, c = a, d = a, e = a, f = a, g = a, h = a;
            for (long o = 0; o < size; o += UNROLL * v) {
                a = a.add(FloatVector.fromMemorySegment(F, part, o, LE));
                b = b.add(FloatVector.fromMemorySegment(F, part, o + v, LE));
                c = c.add(FloatVector.fromMemorySegment(F, part, o + 2 * v, LE));
                d = d.add(FloatVector.fromMemorySegment(F, part, o + 3 * v, LE));
                e = e.add(FloatVector.fromMemorySegment(F, part, o + 4 * v, LE));
                f = f.add(FloatVector.fromMemorySegment(F, part, o + 5 * v, LE));
                g = g.add(FloatVector.fromMemorySegment(F, part, o + 6 * v, LE));
                h = h.add(FloatVector.fromMemorySegment(F, part, o + 7 * v, LE));
            }
            sink = a.add(b).add(c).add(d).add(e.add(f).add(g).add(h)).reduceLanes(VectorOperators.ADD);
        }
    }

    /** Independent FMA chains, enough to cover the FMA latency on two ports; no memory traffic. */
    private static final class FmaTask implements WorkerPool.Task {
        static final int CHAINS = 10;
        final int iterations;
        volatile float sink;

        FmaTask(int iterations) {
            this.iterations = iterations;
        }

        @Override
        public void run(int worker, int workers) {
            FloatVector x = FloatVector.broadcast(F, 0.999f), y = FloatVector.broadcast(F, 0.001f);
            FloatVector a0 = FloatVector.broadcast(F, 1), a1 = a0, a2 = a0, a3 = a0, a4 = a0,
                    a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
            for (int i = 0; i < iterations; i++) {
                a0 = a0.fma(x, y); a1 = a1.fma(x, y); a2 = a2.fma(x, y); a3 = a3.fma(x, y); a4 = a4.fma(x, y);
                a5 = a5.fma(x, y); a6 = a6.fma(x, y); a7 = a7.fma(x, y); a8 = a8.fma(x, y); a9 = a9.fma(x, y);
            }
            sink = a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).reduceLanes(VectorOperators.ADD);
        }
    }
}
