package tinyllm.api;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;
import tinyllm.model.Weights;
import tinyllm.runtime.WorkerPool;

/**
 * A GPT-2 model ready to run: a checkpoint mapped read-only (or read into memory), its weight views and
 * the worker pool that runs the kernels. Sessions created from it share all three; the model itself
 * holds no per-request state, so it is safe to use from many threads. {@link #close()} unmaps the
 * weights and stops the workers: close the sessions first.
 *
 * <p>Threading: the pool has {@code threads} workers, the calling thread being one of them. Sessions
 * driven from several threads take turns on the pool one kernel call at a time: a session waiting for
 * its turn spins, then yields; there is no queue, so no fairness between them. Each session's own state
 * is touched only by its caller.
 */
public final class Model implements AutoCloseable {
    private final Arena arena;
    private volatile boolean closed;
    private final GPT2Config config;
    private final Checkpoint checkpoint; // null for a model that is not a file's (the warm-up's)
    private final Weights weights;
    private final WorkerPool pool;

    /** @param parameters all 16 tensors in checkpoint order, living in {@code arena}; checkpoint null if they are not a file's */
    Model(Arena arena, GPT2Config config, MemorySegment parameters, Checkpoint checkpoint, int threads) {
        this.arena = arena;
        this.config = config;
        this.checkpoint = checkpoint;
        this.weights = Weights.of(config, parameters, arena);
        this.pool = new WorkerPool(threads);
    }

    /** Most worker threads per available processor: the workers spin while they wait, so beyond one per core they only slow each other down. */
    public static final int MAX_THREADS_PER_PROCESSOR = 4;

    /**
     * Opens and validates {@code path}; {@code threads} workers (the caller counts as one) run the kernels.
     *
     * @param map true to map the file (zero-copy, shared with the page cache: the file must then not be
     *            truncated while the model is open), false to read the weights into memory of the model's own
     * @throws TinyLlmException with a one-line message when the file is missing or not a valid checkpoint,
     *                          or when {@code threads} is below 1 or above {@link #MAX_THREADS_PER_PROCESSOR}
     *                          per available processor
     */
    public static Model open(Path path, int threads, boolean map) {
        int processors = Runtime.getRuntime().availableProcessors();
        if (threads < 1 || threads > MAX_THREADS_PER_PROCESSOR * processors) {
            throw new TinyLlmException("--threads must be between 1 and " + MAX_THREADS_PER_PROCESSOR * processors + " ("
                    + MAX_THREADS_PER_PROCESSOR + " per available processor; more than one per processor is already slower),"
                    + " got " + threads);
        }
        Arena arena = Arena.ofShared();
        try {
            Checkpoint checkpoint = Checkpoint.open(path, arena, map);
            return new Model(arena, checkpoint.config(), checkpoint.parameters(), checkpoint, threads);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Opens and maps {@code path}; see {@link #open(Path, int, boolean)}. */
    public static Model open(Path path, int threads) {
        return open(path, threads, true);
    }

    /** Opens and maps {@code path} with one worker per available processor. */
    public static Model open(Path path) {
        return open(path, Runtime.getRuntime().availableProcessors());
    }

    /** The model's shape, from the checkpoint's header. */
    public GPT2Config config() {
        return config;
    }

    /** The checkpoint file. */
    public Path path() {
        return checkpoint == null ? null : checkpoint.path();
    }

    /** Worker threads, the calling thread included. */
    public int threads() {
        return pool.workers();
    }

    /** The engine's own threads, for accounting (allocation tests, profilers). */
    public Thread[] workerThreads() {
        return pool.threads();
    }

    /** A new session with its own activations and a KV cache for the model's whole context, allocated now, once. */
    public Session newSession() {
        return newSession(config().maxSeqLen());
    }

    /**
     * A new session whose KV cache holds {@code contextTokens} positions (1 to the model's context length)
     * and whose activations take min(contextTokens, 512) prompt rows at a time, allocated now, once: for a
     * request of known size, a fraction of the memory (the full 124M context is ~90 MB), and so less time to
     * set up. Feeding it more tokens than that is a {@link TinyLlmException} naming the numbers.
     *
     * @throws TinyLlmException if {@code contextTokens} is out of range
     */
    public Session newSession(int contextTokens) {
        checkOpen();
        if (contextTokens < 1 || contextTokens > config().maxSeqLen()) {
            throw new TinyLlmException("a session holds 1 to " + config().maxSeqLen()
                    + " tokens (the model's context), not " + contextTokens);
        }
        BatchRunner runner = new BatchRunner(config, weights, checkpoint, pool, Math.min(contextTokens, Session.PREFILL_ROWS), 1);
        try {
            return new Session(config, runner, contextTokens);
        } catch (RuntimeException | Error e) {
            runner.close();
            throw e;
        }
    }

    /**
     * Starts compiling the engine's kernels on a background thread, for a program that will open a
     * model of storage type {@code dtype} and wants its first tokens at full speed (a CLI run, a server
     * before its first request): see {@link WarmUp}. Never done unless asked; close the handle before the
     * real work so the two do not share the cores.
     */
    public static WarmUp warmUp(DType dtype) {
        return WarmUp.start(dtype);
    }

    /**
     * A runner of batched steps over many sequences (continuous batching, contract C4): each step takes up
     * to {@code maxRows} rows, decode and prompt rows of any sequences, and reads the weights once for all
     * of them. Its activations and up to {@code maxRows} rows of logits (V floats each) are allocated now,
     * once; each sequence's KV cache when {@link BatchRunner#newSequence} makes it. Use it from one thread.
     *
     * @throws TinyLlmException if {@code maxRows} is below 1
     */
    public BatchRunner newBatchRunner(int maxRows) {
        return newBatchRunner(maxRows, maxRows);
    }

    /**
     * As {@link #newBatchRunner(int)}, with logits for at most {@code maxLogitRows} sequences a step (a server's
     * slots): each such row costs the vocabulary's size in floats, 200 KB for GPT-2, so a budget of prompt rows
     * need not pay for logits it never asks for.
     */
    public BatchRunner newBatchRunner(int maxRows, int maxLogitRows) {
        checkOpen();
        if (maxRows < 1 || maxLogitRows < 1 || maxLogitRows > maxRows) {
            throw new TinyLlmException("a batch step needs room for at least 1 row and 1 to " + maxRows
                    + " rows of logits, not " + maxRows + " and " + maxLogitRows);
        }
        return new BatchRunner(config, weights, checkpoint, pool, maxRows, maxLogitRows);
    }

    /** Stops the workers and unmaps the weights; sessions and runners made from it fail from then on. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        pool.close();
        arena.close();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the model is closed");
        }
    }
}
