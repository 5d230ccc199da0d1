package tinyllm.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

import tinyllm.TinyLlmException;
import tinyllm.kernels.Attention;
import tinyllm.kernels.Encoder;
import tinyllm.kernels.Gelu;
import tinyllm.kernels.LayerNorm;
import tinyllm.kernels.MatMul;
import tinyllm.kernels.MatMulBf16;
import tinyllm.kernels.Residual;
import tinyllm.model.GPT2Config;
import tinyllm.model.Matrix;
import tinyllm.model.Weights;

/**
 * The forward pass over one {@link Batch} of rows: the activation buffers for up to {@code maxRows} rows
 * and the prepared tasks that run the kernels on the worker pool. It reads like the architecture diagram
 * ({@link #forward}); a batch of one sequence (a session's prompt chunk, a decode step) and a batch of
 * sixteen take the same path. Matrix products, layernorms, GELU and residuals run over all rows at once,
 * so each weight matrix is read once per step whatever the number of rows; only attention is per sequence,
 * each run of rows against its own {@link KvCache}. Nothing is allocated on the Java heap after construction.
 */
public final class Forward implements AutoCloseable {
    /**
     * Chunks of a matrix product or of attention per thread, claimed in turn rather than one equal share each:
     * a thread that loses its core for a while (to the JIT compiler during a cold start, to another process on
     * a busy host) no longer holds the others at the kernel's end; they take its chunks instead.
     */
    private static final int CHUNKS_PER_WORKER = 8;
    /** Below this many elements an element-wise kernel runs on the calling thread: a hand-off would cost more. */
    private static final long PARALLEL_ELEMENTS = 1 << 15;

    private final GPT2Config config;
    private final Weights weights;
    private final WorkerPool pool;
    private final Arena arena = Arena.ofShared();
    private final int maxRows, maxLogitRows;
    private long allocatedFloats; // by floats(), for the check against activationBytes

    // Activations for up to maxRows rows, named as in llm.c.
    private final MemorySegment x;      // (rows, C) the residual stream
    private final MemorySegment ln;     // (rows, C) layernorm output
    private final MemorySegment qkv;    // (rows, 3C)
    private final MemorySegment atty;   // (rows, C) attention output, heads side by side
    private final MemorySegment proj;   // (rows, C) output of the two projections
    private final MemorySegment fch;    // (rows, 4C) MLP hidden layer, GELU applied in place
    private final MemorySegment last;   // (logit rows, C) final layernorm of the rows whose logits are wanted
    private final MemorySegment logits; // (logit rows, V)
    private final MemorySegment split;  // (rows, 4C) a matmul input split into even and odd elements (bf16 only)
    private final MemorySegment[] scores; // (maxT) attention scratch, one per worker
    private final MemorySegment[] scratch; // a GEMM weight panel or widened q8 rows, one per worker

    private final MatMulTask matmul = new MatMulTask();
    private final AttentionTask attention = new AttentionTask();
    private final LayerNormTask layerNorm = new LayerNormTask();
    private final ElementwiseTask residual = new ElementwiseTask(false);
    private final ElementwiseTask gelu = new ElementwiseTask(true);
    private final SplitTask splitTask = new SplitTask();

    /**
     * @param maxRows      most rows of one batch (prompt rows of every sequence plus decode rows)
     * @param maxLogitRows most rows of one batch that want logits: at most one per sequence in the batch
     */
    public Forward(GPT2Config config, Weights weights, WorkerPool pool, int maxRows, int maxLogitRows) {
        if (maxRows < 1 || maxLogitRows < 1 || maxLogitRows > maxRows) {
            throw new IllegalArgumentException("a forward pass needs 1 <= logit rows (" + maxLogitRows
                    + ") <= rows (" + maxRows + ")");
        }
        this.config = config;
        this.weights = weights;
        this.pool = pool;
        this.maxRows = maxRows;
        this.maxLogitRows = maxLogitRows;
        long C = config.channels(), rows = maxRows;
        long activationBytes = activationBytes(config, maxRows, maxLogitRows);
        Buffers.requireMemory(activationBytes, "the activations for " + maxRows + " rows x " + C + " channels");
        try {
            this.x = floats(rows * C);
            this.ln = floats(rows * C);
            this.qkv = floats(rows * 3 * C);
            this.atty = floats(rows * C);
            this.proj = floats(rows * C);
            this.fch = floats(rows * 4 * C);
            this.last = floats(maxLogitRows * C);
            this.logits = floats((long) maxLogitRows * config.vocabSize());
            this.split = MatMul.splitsInput(weights.wte().encoding()) ? floats(rows * 4 * C) : null;
            // The memory check above had to come before these allocations, from a formula of its own: if the two
            // ever disagree, every Forward says so at once rather than the check passing what then does not fit.
            if (allocatedFloats * Float.BYTES != activationBytes) {
                throw new IllegalStateException("activationBytes says " + activationBytes + " bytes, the constructor allocated "
                        + allocatedFloats * Float.BYTES);
            }
            this.scores = new MemorySegment[pool.workers()];
            this.scratch = new MemorySegment[pool.workers()];
            for (int w = 0; w < scores.length; w++) {
                scores[w] = floats(Attention.scoreFloats(config.maxSeqLen()));
                scratch[w] = floats(MatMul.scratchFloats(4 * config.channels()));
            }
        } catch (OutOfMemoryError e) {
            arena.close();
            throw new TinyLlmException("cannot allocate the activations for " + maxRows + " rows x " + C
                    + " channels: they do not fit in memory (" + e.getMessage() + ")", e);
        } catch (RuntimeException | Error e) {
            arena.close(); // what was allocated before the failure
            throw e;
        }
    }

    /** Bytes of the activations a forward pass of {@code maxRows} rows allocates (see the constructor). */
    public static long activationBytes(GPT2Config config, int maxRows, int maxLogitRows) {
        long C = config.channels();
        long perRow = C * (1 + 1 + 3 + 1 + 1 + 4 + (MatMul.splitsInput(config.dtype()) ? 4 : 0)); // x ln qkv atty proj fch split
        return ((long) maxRows * perRow + (long) maxLogitRows * (C + config.vocabSize())) * Float.BYTES;
    }

    private MemorySegment floats(long count) {
        allocatedFloats += count;
        return Buffers.floats(arena, count);
    }

    /** Most rows one {@link #forward} takes. */
    public int maxRows() {
        return maxRows;
    }

    /** Most rows of one batch that may want logits. */
    public int maxLogitRows() {
        return maxLogitRows;
    }

    /**
     * The next-token logits (logit rows, V) written by the last {@link #forward}: row i for the batch's
     * i-th run that asked for them.
     */
    public MemorySegment logits() {
        return logits;
    }

    /**
     * The transformer over every row of {@code batch}: each row's key and value go into its sequence's
     * cache, and for the runs that ask, the logits after their last row are computed, over the first V rows
     * of wte (never the padding) in one matrix product for all of them. Token ids, positions and budgets are
     * checked by the caller.
     */
    public void forward(Batch batch) {
        int T = batch.rows(), C = config.channels();
        if (T > maxRows || batch.logitRows() > maxLogitRows) {
            throw new IllegalStateException("a batch of " + T + " rows, " + batch.logitRows()
                    + " with logits, for a forward pass of " + maxRows + " and " + maxLogitRows);
        }
        Encoder.forward(x, weights.wte(), weights.wpe(), batch.tokens(), batch.positions(), T, C);
        for (int l = 0; l < config.layers(); l++) {
            Weights.Layer w = weights.layers()[l];
            layerNorm(ln, x, w.ln1w(), w.ln1b(), T);
            matmul(qkv, ln, w.qkvw(), w.qkvb(), T, C, 3 * C);
            attention(atty, qkv, batch, l);
            matmul(proj, atty, w.attprojw(), w.attprojb(), T, C, C);
            elementwise(residual, x, proj, (long) T * C);
            layerNorm(ln, x, w.ln2w(), w.ln2b(), T);
            matmul(fch, ln, w.fcw(), w.fcb(), T, C, 4 * C);
            elementwise(gelu, fch, null, (long) T * 4 * C);
            matmul(proj, fch, w.fcprojw(), w.fcprojb(), T, 4 * C, C);
            elementwise(residual, x, proj, (long) T * C);
        }
        int R = batch.logitRows();
        if (R > 0) {
            gatherLogitRows(last, x, batch);
            layerNorm(last, last, weights.lnfw(), weights.lnfb(), R);
            matmul(logits, last, weights.wte(), null, R, C, config.vocabSize());
        }
    }

    /** last (R,C) = the rows of x (T,C) whose logits the batch wants, so one product over wte serves them all. */
    private void gatherLogitRows(MemorySegment last, MemorySegment x, Batch batch) {
        long rowBytes = (long) config.channels() * Float.BYTES;
        for (int r = 0; r < batch.logitRows(); r++) {
            MemorySegment.copy(x, batch.logitRow(r) * rowBytes, last, r * rowBytes, rowBytes);
        }
    }

    /**
     * Each row's attention against its own sequence's cache, the row's key and value stored there first. A run
     * of several rows (a prompt chunk) is stored whole before the threads start, so each row sees the rows
     * before it in the same batch, whichever thread stored them. A run of one row (a decode step) needs only
     * its own key and value: the thread that takes a (row, head) item stores that head, then attends, so the
     * stores are shared among the threads too. They cost more than their size: a key goes into its tile one
     * float per cache line, lines the weights of the last step have evicted (16 decode rows: 1.4 ms a step
     * on one thread, of a 45 ms step).
     */
    private void attention(MemorySegment out, MemorySegment qkv, Batch batch, int layer) {
        int C = config.channels(), NH = config.heads();
        for (int run = 0; run < batch.runs(); run++) {
            if (!storedByAttendingThread(batch, run)) {
                KvCache cache = batch.cache(run);
                Attention.storeKeysValues(cache.keys(layer), cache.values(layer), qkv, batch.firstRow(run),
                        batch.startPosition(run), C, NH, cache.capacity(), 0, batch.rowCount(run) * NH);
            }
        }
        attention.set(out, qkv, batch, layer);
        pool.run(attention);
    }

    /** Whether the threads that attend with a run's rows store its keys and values ({@link #attention}): a run of one row. */
    private static boolean storedByAttendingThread(Batch batch, int run) {
        return batch.rowCount(run) == 1;
    }

    private void matmul(MemorySegment out, MemorySegment in, Matrix weight, MemorySegment bias, int T, int C, int OC) {
        if (MatMul.readsSplitInput(weight, T, OC)) {
            // The decode path's input, split once before the threads share it: by rows, on every thread when
            // there are enough (a long prompt on GPT-2 medium and up, whose C is no whole number of panels).
            splitTask.set(in, T, C);
            run(splitTask, (long) T * C);
        }
        matmul.set(out, in, weight, bias, T, C, OC);
        pool.run(matmul);
    }

    private void layerNorm(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias, int T) {
        layerNorm.set(out, in, weight, bias, T);
        run(layerNorm, (long) T * config.channels());
    }

    private void elementwise(ElementwiseTask task, MemorySegment target, MemorySegment other, long count) {
        task.set(target, other, count);
        run(task, count);
    }

    /** A task over {@code elements} floats: on the calling thread alone below {@link #PARALLEL_ELEMENTS}, else on the pool. */
    private void run(WorkerPool.Task task, long elements) {
        if (elements < PARALLEL_ELEMENTS) {
            task.run(0, 1);
        } else {
            pool.run(task);
        }
    }

    @Override
    public void close() {
        arena.close();
    }

    /**
     * Splits the output channels into chunks the threads claim in turn (see {@link #CHUNKS_PER_WORKER}): each
     * chunk a contiguous run of weight rows that its thread streams front to back.
     */
    private final class MatMulTask implements WorkerPool.Task {
        private MemorySegment out, in, bias;
        private Matrix weight;
        private int T, C, OC;

        private final AtomicInteger nextChunk = new AtomicInteger();

        void set(MemorySegment out, MemorySegment in, Matrix weight, MemorySegment bias, int T, int C, int OC) {
            this.out = out;
            this.in = in;
            this.weight = weight;
            this.bias = bias;
            this.T = T;
            this.C = C;
            this.OC = OC;
            nextChunk.set(0);
        }

        @Override
        public void run(int worker, int workers) {
            int align = MatMul.channelAlignment(T), chunks = workers * CHUNKS_PER_WORKER;
            for (int c; (c = nextChunk.getAndIncrement()) < chunks; ) {
                int from = WorkerPool.split(OC, c, chunks, align), to = WorkerPool.split(OC, c + 1, chunks, align);
                MatMul.forward(out, in, split, weight, bias, T, C, OC, from, to, scratch[worker]);
            }
        }
    }

    /**
     * Splits the (row, head) pairs of the whole batch, numbered row * NH + h, into chunks of equal keys
     * ({@link Batch#attentionSplit}) that the threads claim in turn; a thread runs its chunk's share of every
     * run the chunk overlaps against that run's cache, with its own row of score scratch.
     */
    private final class AttentionTask implements WorkerPool.Task {
        private MemorySegment out, qkv;
        private Batch batch;
        private int layer;

        private final AtomicInteger nextChunk = new AtomicInteger();

        void set(MemorySegment out, MemorySegment qkv, Batch batch, int layer) {
            this.out = out;
            this.qkv = qkv;
            this.batch = batch;
            this.layer = layer;
            nextChunk.set(0);
        }

        @Override
        public void run(int worker, int workers) {
            int NH = config.heads(), chunks = workers * CHUNKS_PER_WORKER;
            for (int c; (c = nextChunk.getAndIncrement()) < chunks; ) {
                chunk(batch.attentionSplit(c, chunks, NH), batch.attentionSplit(c + 1, chunks, NH), worker);
            }
        }

        /** Pairs [from, to) of the batch's (row, head) pairs. */
        private void chunk(int from, int to, int worker) {
            int NH = config.heads();
            for (int run = 0; run < batch.runs(); run++) {
                int first = batch.firstRow(run) * NH, end = first + batch.rowCount(run) * NH;
                int lo = Math.max(from, first), hi = Math.min(to, end);
                if (lo < hi) {
                    KvCache cache = batch.cache(run);
                    if (storedByAttendingThread(batch, run)) {
                        Attention.storeKeysValues(cache.keys(layer), cache.values(layer), qkv, batch.firstRow(run),
                                batch.startPosition(run), config.channels(), NH, cache.capacity(), lo - first, hi - first);
                    }
                    Attention.forward(out, qkv, cache.keys(layer), cache.values(layer), scores[worker],
                            batch.firstRow(run), batch.startPosition(run), config.channels(), NH, cache.capacity(),
                            lo - first, hi - first);
                }
            }
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

    /** bf16's even/odd split of the input rows, rows shared among the threads. */
    private final class SplitTask implements WorkerPool.Task {
        private MemorySegment in;
        private int T, C;

        void set(MemorySegment in, int T, int C) {
            this.in = in;
            this.T = T;
            this.C = C;
        }

        @Override
        public void run(int worker, int workers) {
            MatMulBf16.splitEvenOdd(split, in, WorkerPool.split(T, worker, workers, 1), WorkerPool.split(T, worker + 1, workers, 1), C);
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
