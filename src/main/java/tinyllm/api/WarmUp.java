package tinyllm.api;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import tinyllm.kernels.MatMul;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;
import tinyllm.model.Matrix;
import tinyllm.model.ParameterLayout;
import tinyllm.model.Weights;

/**
 * The engine's kernels compiled before the real work needs them, on a background thread.
 *
 * <p>Until C2 compiles a Vector API kernel it runs in the interpreter or C1 at a small fraction of its
 * speed, so the first tokens of a fresh JVM are slow: on the 124M shape a 4-token prompt took ~1.4 s and
 * the first decode steps ~50-80 ms instead of ~12. The warm-up runs a tiny random GPT-2 of the same
 * storage type (one layer, one head of 64 channels as in GPT-2, 61 tokens, a context of 96) through the real path,
 * {@link Model#newSession(int)}, {@link Session#prefill}, {@link Session#append} and
 * {@link Session#argmax}, over prompts long enough for the GEMM and short enough for the decode kernels,
 * round after round, so the JIT compiles exactly the code the real model runs, while the caller loads its
 * tokenizer, model and prompt. Its C2 code is real-speed code on any shape: the kernels are the same
 * methods. A tiny model because a pass of a big one does not finish while interpreted.
 *
 * <p>It costs a core until {@link #close()}, which the caller should call right before its real work.
 * It stops by itself after {@link #LIMIT_NANOS}. The tiny model's memory (under 2 MB) is freed when it stops.
 */
public final class WarmUp implements AutoCloseable {
    /** Long enough for C2 to compile every kernel on a busy 2-core machine; a forgotten handle stops here. */
    static final long LIMIT_NANOS = 20_000_000_000L;
    private static final GPT2Config TINY_FP32 = new GPT2Config(MatMul.GEMM_MIN_ROWS + 16, 61, 64, 1, 1, 64, DType.FP32);

    private final DType dtype;
    private final Thread thread;
    private volatile boolean stop;
    private volatile int rounds;

    private WarmUp(DType dtype) {
        this.dtype = dtype;
        GPT2Config tiny = new GPT2Config(TINY_FP32.maxSeqLen(), TINY_FP32.vocabSize(), TINY_FP32.vocabPadded(),
                TINY_FP32.layers(), TINY_FP32.heads(), TINY_FP32.channels(), dtype);
        thread = Thread.ofPlatform().daemon().name("tinyllm-warm-up").unstarted(() -> run(tiny));
    }

    static WarmUp start(DType dtype) {
        java.util.Objects.requireNonNull(dtype, "the storage type to warm up for (DType.FP32, BF16 or Q8)");
        WarmUp warmUp = new WarmUp(dtype);
        warmUp.thread.start();
        return warmUp;
    }

    /** The storage type whose kernels it compiles. */
    public DType dtype() {
        return dtype;
    }

    /** Rounds of prompt and decode steps done so far. */
    public int rounds() {
        return rounds;
    }

    private void run(GPT2Config tiny) {
        long deadline = System.nanoTime() + LIMIT_NANOS;
        int[] tokens = new int[tiny.maxSeqLen()];
        for (int i = 0; i < tokens.length; i++) tokens[i] = (i * 37 + 11) % tiny.vocabSize();
        try (Model model = random(tiny); Session session = model.newSession(tiny.maxSeqLen())) {
            while (!stop && System.nanoTime() < deadline) {
                session.reset();
                // A short prompt's kernels first (four rows at a time and one left over, then decode steps): every
                // run needs them, and a short run needs nothing else. The GEMM's first did not help even a 900-token
                // prompt (4.43 against 3.79 s wall, median of four alternating pairs on the Zen 4 VM).
                session.prefill(tokens, 0, MatMul.ROWS + 1);
                for (int step = 0; step < 8 && !stop; step++) {
                    session.append(session.argmax());
                }
                if (stop) break;
                session.prefill(tokens, session.position(), MatMul.GEMM_MIN_ROWS); // enough rows for the GEMM: a long prompt's
                rounds++;
            }
        } catch (Throwable e) {
            // Best effort, never a failure of its own: whatever stops it here (a JVM without the Vector API module,
            // say) stops the real work too, which reports it in one line; a stack trace from this thread would not.
        }
    }

    /** A model of small random weights in memory, one thread: the values do not matter, only the code they run. */
    private static Model random(GPT2Config config) {
        Arena arena = Arena.ofShared();
        ParameterLayout layout = config.layout();
        MemorySegment parameters = arena.allocate(layout.bytes(), 64);
        long state = 0x9E3779B97F4A7C15L;
        for (int tensor = 0; tensor < ParameterLayout.NAMES.length; tensor++) {
            long at = layout.byteOffsets()[tensor], n = layout.sizes()[tensor];
            if (config.dtype() == DType.Q8 && ParameterLayout.isMatrix(tensor)) {
                // Random bytes, scales included: the scales are set below, through the matrices' own views.
                for (long i = 0; i < layout.byteSizes()[tensor]; i++) {
                    state = state * 6364136223846793005L + 1442695040888963407L;
                    parameters.set(ValueLayout.JAVA_BYTE, at + i, (byte) (state >>> 56));
                }
                continue;
            }
            for (long i = 0; i < n; i++) {
                state = state * 6364136223846793005L + 1442695040888963407L;
                float value = ((state >>> 40) / (float) (1 << 24) - 0.5f) * 0.04f;
                if (config.dtype() == DType.BF16) {
                    parameters.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + i * Short.BYTES, (short) (Float.floatToRawIntBits(value) >>> 16));
                } else {
                    parameters.set(ValueLayout.JAVA_FLOAT_UNALIGNED, at + i * Float.BYTES, value);
                }
            }
        }
        if (config.dtype() == DType.Q8) {
            for (Matrix m : Weights.of(config, parameters, arena).matrices()) {
                for (long b = 0; b < m.scales().byteSize() / Float.BYTES; b++) {
                    m.scales().setAtIndex(ValueLayout.JAVA_FLOAT, b, 0.02f / 127);
                }
            }
        }
        try {
            return new Model(arena, config, parameters, null, 1);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Waits until the warm-up has run {@code rounds} rounds in all, or {@code timeoutNanos} have passed, or it
     * stopped: for a program that can afford to wait for compiled kernels before its first real work (a
     * server before it takes requests). True if the rounds were reached.
     */
    public boolean awaitRounds(int rounds, long timeoutNanos) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        while (this.rounds < rounds && thread.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        return this.rounds >= rounds;
    }

    /** Stops the warm-up and waits for it to finish the step it is in. */
    @Override
    public void close() {
        stop = true;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
