package tinyllm.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import tinyllm.TinyLlmException;
import tinyllm.kernels.Attention;
import tinyllm.kernels.Encoder;
import tinyllm.kernels.Gelu;
import tinyllm.kernels.LayerNorm;
import tinyllm.kernels.MatMul;
import tinyllm.kernels.MatMulBf16;
import tinyllm.kernels.Residual;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;
import tinyllm.model.Weights;

/**
 * The forward pass of one session: its activation buffers and KV cache, allocated once, and the
 * prepared tasks that run the kernels on the worker pool. It reads like the architecture diagram
 * ({@link #forward}); the session ({@code tinyllm.api.Session}) owns the position and the checks.
 * Nothing is allocated on the Java heap after construction.
 */
public final class Forward implements AutoCloseable {
    /** Most prompt rows run through the model in one pass; longer prompts go in chunks of this size. */
    public static final int MAX_CHUNK = 512;
    /** Below this many elements an element-wise kernel runs on the calling thread: a hand-off would cost more. */
    private static final long PARALLEL_ELEMENTS = 1 << 15;

    private final GPT2Config config;
    private final Weights weights;
    private final WorkerPool pool;
    private final Arena arena = Arena.ofShared();
    private final int capacity;
    private final int chunk;
    private final boolean bf16;

    // Activations for up to `chunk` rows, named as in llm.c.
    private final MemorySegment x;      // (chunk, C) the residual stream
    private final MemorySegment ln;     // (chunk, C) layernorm output
    private final MemorySegment qkv;    // (chunk, 3C)
    private final MemorySegment atty;   // (chunk, C) attention output, heads side by side
    private final MemorySegment proj;   // (chunk, C) output of the two projections
    private final MemorySegment fch;    // (chunk, 4C) MLP hidden layer, GELU applied in place
    private final MemorySegment last;   // (C) final layernorm of the last row
    private final MemorySegment logits; // (V)
    private final MemorySegment split;  // (chunk, 4C) a matmul input split into even and odd elements (bf16 only)
    private final MemorySegment[] scores; // (capacity) attention scratch, one per worker
    private final MemorySegment[] packed; // a GEMM weight panel, one per worker
    // The KV cache of `capacity` positions, per layer: keys in vector-wide tiles (NH, capacity / L, hs, L),
    // values (NH, capacity, hs). See Attention.
    private final MemorySegment[] keys;
    private final MemorySegment[] values;

    private final MatMulTask matmul = new MatMulTask();
    private final AttentionTask attention = new AttentionTask();
    private final LayerNormTask layerNorm = new LayerNormTask();
    private final ElementwiseTask residual = new ElementwiseTask(false);
    private final ElementwiseTask gelu = new ElementwiseTask(true);

    /** A forward pass whose KV cache holds {@code capacity} positions (1..maxT), with activations for min(capacity, 512) rows. */
    public Forward(GPT2Config config, Weights weights, WorkerPool pool, int capacity) {
        if (capacity < 1 || capacity > config.maxSeqLen()) {
            throw new IllegalArgumentException("capacity " + capacity + " is outside 1.." + config.maxSeqLen());
        }
        this.config = config;
        this.weights = weights;
        this.pool = pool;
        this.capacity = capacity;
        int C = config.channels();
        this.chunk = Math.min(capacity, MAX_CHUNK);
        this.bf16 = config.dtype() == DType.BF16;
        long cacheBytes = config.layers() * (Attention.keyCacheFloats(C, capacity) + (long) C * capacity) * Float.BYTES;
        try {
            requireMemory(cacheBytes, config);
            this.x = floats((long) chunk * C);
            this.ln = floats((long) chunk * C);
            this.qkv = floats((long) chunk * 3 * C);
            this.atty = floats((long) chunk * C);
            this.proj = floats((long) chunk * C);
            this.fch = floats((long) chunk * 4 * C);
            this.last = floats(C);
            this.logits = floats(config.vocabSize());
            this.split = bf16 ? floats((long) chunk * 4 * C) : null;
            this.scores = new MemorySegment[pool.workers()];
            this.packed = new MemorySegment[pool.workers()];
            for (int w = 0; w < scores.length; w++) {
                scores[w] = floats(Attention.scoreFloats(capacity));
                packed[w] = floats(MatMul.packFloats());
            }
            this.keys = new MemorySegment[config.layers()];
            this.values = new MemorySegment[config.layers()];
            for (int l = 0; l < config.layers(); l++) {
                keys[l] = floats(Attention.keyCacheFloats(C, capacity));
                values[l] = floats((long) C * capacity);
            }
        } catch (OutOfMemoryError e) {
            arena.close();
            throw new TinyLlmException("cannot allocate a session: " + describeCache(cacheBytes, config) + " and the activations"
                    + " do not fit in memory (" + e.getMessage() + ")", e);
        } catch (RuntimeException | Error e) {
            arena.close(); // what was allocated before the failure
            throw e;
        }
    }

    /**
     * Refuses a KV cache larger than the machine's memory before allocating it: each layer's piece might be
     * granted (memory is overcommitted) and then zeroed until the system kills the process. Asked only for
     * caches over 1 GiB: loading the management bean costs ~0.1 s, more than a small session takes to make.
     */
    private static void requireMemory(long cacheBytes, GPT2Config config) {
        if (cacheBytes < 1L << 30) {
            return;
        }
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        if (cacheBytes > os.getTotalMemorySize()) {
            throw new TinyLlmException("cannot allocate a session: " + describeCache(cacheBytes, config)
                    + ", more than this machine's " + os.getTotalMemorySize() / 1_000_000 + " MB of memory");
        }
    }

    private static String describeCache(long cacheBytes, GPT2Config config) {
        return "its KV cache for a context of " + config.maxSeqLen() + " tokens x " + config.layers() + " layers x "
                + config.channels() + " channels needs " + cacheBytes / 1_000_000 + " MB";
    }

    /** Every buffer of the pass comes from here: {@code count} floats, 64-byte aligned, freed by {@link #close}. */
    private MemorySegment floats(long count) {
        return arena.allocate(count * Float.BYTES, 64);
    }

    /** Positions the KV cache holds. */
    public int capacity() {
        return capacity;
    }

    /** Most rows one {@link #forward} call takes: longer inputs go in chunks of this size. */
    public int chunkRows() {
        return chunk;
    }

    /** The next-token logits (V floats) computed by the last {@link #logits(int)}. */
    public MemorySegment logits() {
        return logits;
    }

    /**
     * The transformer over tokens[first .. first+T) at positions [pos0, pos0 + T), T at most
     * {@link #chunkRows}: their keys and values go into the cache, the last hidden state into the
     * residual buffer. Tokens and positions are checked by the caller.
     */
    public void forward(int[] tokens, int first, int T, int pos0) {
        int C = config.channels();
        if (bf16) {
            Encoder.forwardBf16(x, weights.wte(), weights.wpe(), tokens, first, T, pos0, C);
        } else {
            Encoder.forward(x, weights.wte(), weights.wpe(), tokens, first, T, pos0, C);
        }
        for (int l = 0; l < config.layers(); l++) {
            Weights.Layer w = weights.layers()[l];
            layerNorm(ln, x, w.ln1w(), w.ln1b(), T);
            matmul(qkv, ln, w.qkvw(), w.qkvb(), T, C, 3 * C);
            Attention.storeKeysValues(keys[l], values[l], qkv, T, pos0, C, config.heads(), capacity);
            attention(atty, qkv, keys[l], values[l], T, pos0);
            matmul(proj, atty, w.attprojw(), w.attprojb(), T, C, C);
            elementwise(residual, x, proj, (long) T * C);
            layerNorm(ln, x, w.ln2w(), w.ln2b(), T);
            matmul(fch, ln, w.fcw(), w.fcb(), T, C, 4 * C);
            elementwise(gelu, fch, null, (long) T * 4 * C);
            matmul(proj, fch, w.fcprojw(), w.fcprojb(), T, 4 * C, C);
            elementwise(residual, x, proj, (long) T * C);
        }
    }

    /** After a forward of T rows: final layernorm of the last row, then its logits over the first V rows of wte (never the padding). */
    public void logits(int T) {
        int C = config.channels();
        MemorySegment.copy(x, (long) (T - 1) * C * Float.BYTES, last, 0, (long) C * Float.BYTES);
        LayerNorm.forward(last, last, weights.lnfw(), weights.lnfb(), C, 0, 1);
        matmul(logits, last, weights.wte(), null, 1, C, config.vocabSize());
    }

    private void matmul(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias,
                        int T, int C, int OC) {
        if (bf16 && (T < MatMul.GEMM_ROWS || OC % MatMul.PANEL != 0)) {
            MatMulBf16.splitEvenOdd(split, in, T, C); // the decode path's input, split once before the threads share it
        }
        matmul.set(out, in, weight, bias, T, C, OC);
        pool.run(matmul);
    }

    private void attention(MemorySegment out, MemorySegment qkv, MemorySegment keys, MemorySegment values,
                           int T, int pos0) {
        attention.set(out, qkv, keys, values, T, pos0);
        pool.run(attention);
    }

    private void layerNorm(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias, int T) {
        layerNorm.set(out, in, weight, bias, T);
        if ((long) T * config.channels() < PARALLEL_ELEMENTS) {
            layerNorm.run(0, 1);
        } else {
            pool.run(layerNorm);
        }
    }

    private void elementwise(ElementwiseTask task, MemorySegment target, MemorySegment other, long count) {
        task.set(target, other, count);
        if (count < PARALLEL_ELEMENTS) {
            task.run(0, 1);
        } else {
            pool.run(task);
        }
    }

    @Override
    public void close() {
        arena.close();
    }

    /** Splits the output channels: every thread streams its own share of the weight rows. */
    private final class MatMulTask implements WorkerPool.Task {
        private MemorySegment out, in, weight, bias;
        private int T, C, OC;

        void set(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias, int T, int C, int OC) {
            this.out = out;
            this.in = in;
            this.weight = weight;
            this.bias = bias;
            this.T = T;
            this.C = C;
            this.OC = OC;
        }

        @Override
        public void run(int worker, int workers) {
            int align = MatMul.channelAlignment(T);
            int from = WorkerPool.split(OC, worker, workers, align), to = WorkerPool.split(OC, worker + 1, workers, align);
            if (bf16) {
                MatMulBf16.forward(out, in, split, weight, bias, T, C, OC, from, to, packed[worker]);
            } else {
                MatMul.forward(out, in, weight, bias, T, C, OC, from, to, packed[worker]);
            }
        }
    }

    /** Splits the (query row, head) pairs; each thread has its own row of score scratch. */
    private final class AttentionTask implements WorkerPool.Task {
        private MemorySegment out, qkv, keys, values;
        private int T, pos0;

        void set(MemorySegment out, MemorySegment qkv, MemorySegment keys, MemorySegment values, int T, int pos0) {
            this.out = out;
            this.qkv = qkv;
            this.keys = keys;
            this.values = values;
            this.T = T;
            this.pos0 = pos0;
        }

        @Override
        public void run(int worker, int workers) {
            int items = T * config.heads();
            Attention.forward(out, qkv, keys, values, scores[worker], pos0, config.channels(), config.heads(), capacity,
                    WorkerPool.split(items, worker, workers, 1), WorkerPool.split(items, worker + 1, workers, 1));
        }
    }

    private final class LayerNormTask implements WorkerPool.Task {
        private MemorySegment out, in, weight, bias;
        private int T;

        void set(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias, int T) {
            this.out = out;
            this.in = in;
            this.weight = weight;
            this.bias = bias;
            this.T = T;
        }

        @Override
        public void run(int worker, int workers) {
            LayerNorm.forward(out, in, weight, bias, config.channels(),
                    WorkerPool.split(T, worker, workers, 1), WorkerPool.split(T, worker + 1, workers, 1));
        }
    }

    /** GELU in place, or the residual add, over a contiguous range of elements. */
    private static final class ElementwiseTask implements WorkerPool.Task {
        private final boolean isGelu;
        private MemorySegment target, other;
        private long count;

        ElementwiseTask(boolean isGelu) {
            this.isGelu = isGelu;
        }

        void set(MemorySegment target, MemorySegment other, long count) {
            this.target = target;
            this.other = other;
            this.count = count;
        }

        @Override
        public void run(int worker, int workers) {
            long from = count * worker / workers, to = count * (worker + 1) / workers;
            if (isGelu) {
                Gelu.forward(target, from, to);
            } else {
                Residual.forward(target, other, from, to);
            }
        }
    }
}
