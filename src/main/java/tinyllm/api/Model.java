package tinyllm.api;

import java.lang.foreign.Arena;
import java.nio.file.Path;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.model.GPT2Config;
import tinyllm.model.Weights;
import tinyllm.runtime.Forward;
import tinyllm.runtime.WorkerPool;

/**
 * A GPT-2 model ready to run: a checkpoint mapped read-only, its weight views and the worker pool
 * that runs the kernels. Sessions created from it share all three; the model itself holds no
 * per-request state, so it is safe to use from many threads. {@link #close()} unmaps the weights and
 * stops the workers: close the sessions first.
 *
 * <p>Threading: the pool has {@code threads} workers, the calling thread being one of them. Sessions
 * driven from several threads take turns on the pool kernel by kernel, so the cores are shared among
 * them rather than oversubscribed; each session's own state is touched only by its caller.
 */
public final class Model implements AutoCloseable {
    private final Arena arena;
    private final Checkpoint checkpoint;
    private final Weights weights;
    private final WorkerPool pool;

    private Model(Arena arena, Checkpoint checkpoint, int threads) {
        this.arena = arena;
        this.checkpoint = checkpoint;
        this.weights = Weights.of(checkpoint.config(), checkpoint.parameters(), arena);
        this.pool = new WorkerPool(threads);
    }

    /**
     * Opens and validates {@code path}; {@code threads} workers (the caller counts as one) run the kernels.
     *
     * @throws TinyLlmException with a one-line message when the file is missing or not a valid checkpoint
     */
    public static Model open(Path path, int threads) {
        if (threads < 1) {
            throw new TinyLlmException("--threads must be at least 1, got " + threads);
        }
        Arena arena = Arena.ofShared();
        try {
            return new Model(arena, Checkpoint.open(path, arena), threads);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Opens {@code path} with one worker per available processor. */
    public static Model open(Path path) {
        return open(path, Runtime.getRuntime().availableProcessors());
    }

    /** The model's shape, from the checkpoint's header. */
    public GPT2Config config() {
        return checkpoint.config();
    }

    /** The checkpoint file. */
    public Path path() {
        return checkpoint.path();
    }

    /** Worker threads, the calling thread included. */
    public int threads() {
        return pool.workers();
    }

    /** The engine's own threads, for accounting (allocation tests, profilers). */
    public Thread[] workerThreads() {
        return pool.threads();
    }

    /** A new session with its own activations and KV cache, allocated now, once. */
    public Session newSession() {
        return new Session(config(), new Forward(config(), weights, pool));
    }

    /** A runner of batched steps of at most {@code maxRows} rows over many sequences (contract C4). */
    public BatchRunner newBatchRunner(int maxRows) {
        return new BatchRunner(this, maxRows);
    }

    @Override
    public void close() {
        pool.close();
        arena.close();
    }
}
