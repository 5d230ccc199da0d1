package tinyllm.bench.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import tinyllm.kernels.MatMul;
import tinyllm.kernels.Simd;
import tinyllm.model.DType;
import tinyllm.model.Matrix;
import tinyllm.reference.NaiveGPT2;
import tinyllm.reference.Q8Matrices;
import tinyllm.runtime.WorkerPool;

/**
 * One matrix-vector product, out (1,OC) = in (1,C) · weight (OC,C)ᵀ + bias (OC), at each linear layer
 * shape of GPT-2 124M: the engine's {@link MatMul} against {@link NaiveGPT2#matmul}. This is a decode
 * step's inner loop; every weight is read once, so the engine is bound by memory bandwidth:
 * weight GB/s = C × OC × 4 bytes / time per op (fp32; q8 reads 1.125 bytes per weight).
 *
 * <p>Both sides get the same random values (the speed does not depend on them) from the same seed.
 * The weights are random rather than the checkpoint's so that this bench needs no file.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-Djdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK=0", "-Xmx3g"})
public class MatVecBench {

    /** Input channels × output channels: qkv, attention projection, MLP up, MLP down, logits. */
    static final String QKV = "768x2304", ATTPROJ = "768x768", FC = "768x3072", FCPROJ = "3072x768", LOGITS = "768x50257";

    /** The engine: weights in native memory (as a mapped checkpoint's are), output channels split across the pool. */
    @State(Scope.Benchmark)
    public static class Engine implements WorkerPool.Task {
        @Param({QKV, ATTPROJ, FC, FCPROJ, LOGITS})
        public String shape;
        @Param({"1", "2"})
        public int threads;
        /** The weights' encoding: fp32, or q8 (the same values quantized in blocks of 32). */
        @Param({"fp32", "q8"})
        public String encoding;

        int C, OC;
        Arena arena;
        MemorySegment in, bias, out;
        Matrix weight;
        MemorySegment[] packed;
        WorkerPool pool;

        @Setup
        public void setUp() {
            C = inputs(shape);
            OC = outputs(shape);
            arena = Arena.ofShared(); // the pool's threads read these segments
            in = nativeCopy(arena, randomFloats(C, 1));
            float[] values = randomFloats(C * OC, 2);
            weight = encoding.equals("q8") ? Q8Matrices.quantize(arena, values, OC, C, DType.Q8_BLOCK) : new Matrix(DType.FP32, nativeCopy(arena, values), null, OC, C, 0);
            bias = nativeCopy(arena, randomFloats(OC, 3));
            out = arena.allocate((long) OC * Float.BYTES, 64);
            pool = new WorkerPool(threads);
            packed = new MemorySegment[threads];
            for (int w = 0; w < threads; w++) {
                packed[w] = arena.allocate((long) MatMul.scratchFloats(C) * Float.BYTES, 64);
            }
        }

        /** The split the engine's session uses: each worker streams its own share of the weight rows. */
        @Override
        public void run(int worker, int workers) {
            int align = MatMul.channelAlignment(1);
            MatMul.forward(out, in, null, weight, bias, 1, C, OC,
                    WorkerPool.split(OC, worker, workers, align), WorkerPool.split(OC, worker + 1, workers, align), packed[worker]);
        }

        @TearDown
        public void tearDown() {
            pool.close();
            arena.close();
        }
    }

    /** The reference: plain float[] loops on the calling thread. */
    @State(Scope.Benchmark)
    public static class Naive {
        @Param({QKV, ATTPROJ, FC, FCPROJ, LOGITS})
        public String shape;

        int C, OC;
        float[] in, weight, bias, out;

        @Setup
        public void setUp() {
            C = inputs(shape);
            OC = outputs(shape);
            in = randomFloats(C, 1);
            weight = randomFloats(C * OC, 2);
            bias = randomFloats(OC, 3);
            out = new float[OC];
        }
    }

    @Benchmark
    public void engine(Engine e) {
        e.pool.run(e);
    }

    @Benchmark
    public void naive(Naive n) {
        NaiveGPT2.matmul(n.out, n.in, n.weight, 0, n.bias, 0, 1, n.C, n.OC);
    }

    static int inputs(String shape) {
        return Integer.parseInt(shape.substring(0, shape.indexOf('x')));
    }

    static int outputs(String shape) {
        return Integer.parseInt(shape.substring(shape.indexOf('x') + 1));
    }

    /** Uniform in [-1, 1): no zeros to skip, no denormals to slow anything down. */
    static float[] randomFloats(int count, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) (random.nextDouble() * 2 - 1);
        }
        return values;
    }

    /** Native, 64-byte aligned like the session's buffers: the engine's kernels only ever see native memory. */
    static MemorySegment nativeCopy(Arena arena, float[] values) {
        MemorySegment segment = arena.allocate((long) values.length * Float.BYTES, 64);
        MemorySegment.copy(values, 0, segment, Simd.FLOAT, 0, values.length); // little-endian, as the kernels read
        return segment;
    }
}
