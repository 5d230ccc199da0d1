package tinyllm.api;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.checkpoint.SyntheticCheckpoint;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * After warm-up, a decode step allocates nothing on the Java heap: not on the thread that drives the
 * session, not on any worker. Measured with the JVM's per-thread allocation counters.
 */
class ZeroAllocationTest {
    static final int MEASURED_STEPS = 250;
    static final long WARM_UP_LIMIT_NANOS = 90_000_000_000L;

    /** Bytes each thread allocated over one window: a fresh prompt, then MEASURED_STEPS decode steps. */
    static long[] decodeWindow(Session session, com.sun.management.ThreadMXBean mx, Thread[] threads) {
        session.reset();
        session.prefill(PROMPT, 0, PROMPT.length);
        long[] bytes = measure(() -> {
            for (int step = 0; step < MEASURED_STEPS; step++) {
                session.append(session.argmax());
            }
        }, mx, threads);
        assertEquals(PROMPT.length + MEASURED_STEPS, session.position());
        return bytes;
    }

    static long total(long[] bytes) {
        long sum = 0;
        for (long b : bytes) sum += b;
        return sum;
    }

    /**
     * The whole generation loop, as an embedding program runs it: choose (greedy or sampling), feed back,
     * stream the text into the generator's reused buffer, hand it to a listener. 500 tokens per window.
     */
    @Test
    void generationWithGreedyAndSamplingAllocatesZeroBytesOnEveryThread() {
        Path file = dir.resolve("model.bin");
        SyntheticCheckpoint.write(file, new GPT2Config(1024, 50257, 50304, 1, 2, 64, DType.FP32), 5);
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        tinyllm.tokenizer.GPT2Tokenizer tokenizer = new tinyllm.tokenizer.GPT2Tokenizer();
        long[] streamed = new long[1];
        Generator.Listener listener = (step, token, text, length) -> streamed[0] += length;
        try (Model model = Model.open(file, 2); Session session = model.newSession()) {
            Thread[] threads = new Thread[model.workerThreads().length + 1];
            threads[0] = Thread.currentThread();
            System.arraycopy(model.workerThreads(), 0, threads, 1, threads.length - 1);
            int[] out = new int[500];
            for (TokenChooser chooser : new TokenChooser[] {new Greedy(), new Sampler(50257, 0.9f, 40, 0.95f, 1)}) {
                Generator generator = new Generator(chooser, tokenizer, false, java.util.List.of("no such text"));
                Runnable window = () -> {
                    session.reset();
                    Generator.Result result = generator.generate(session, PROMPT, out, listener);
                    assertEquals(out.length, result.newTokens());
                };
                long deadline = System.nanoTime() + WARM_UP_LIMIT_NANOS;
                while (total(measure(window, mx, threads)) != 0) {
                    assertTrue(System.nanoTime() < deadline, chooser.describe() + ": generation still allocates after warm-up");
                }
                long[] bytes = measure(window, mx, threads);
                for (int i = 0; i < threads.length; i++) {
                    assertEquals(0, bytes[i], chooser.describe() + ": bytes allocated by " + threads[i].getName()
                            + " over 500 generated tokens");
                }
            }
            assertTrue(streamed[0] > 0, "the listener saw the text");
        }
    }

    /** Bytes each thread allocated while {@code work} ran; the caller's own counter is read innermost. */
    static long[] measure(Runnable work, com.sun.management.ThreadMXBean mx, Thread[] threads) {
        long[] bytes = new long[threads.length];
        for (int i = 1; i < threads.length; i++) bytes[i] = -mx.getThreadAllocatedBytes(threads[i].threadId());
        long callerBefore = mx.getCurrentThreadAllocatedBytes();
        work.run();
        bytes[0] = mx.getCurrentThreadAllocatedBytes() - callerBefore;
        for (int i = 1; i < threads.length; i++) bytes[i] += mx.getThreadAllocatedBytes(threads[i].threadId());
        return bytes;
    }

    static final int[] PROMPT = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};

    @TempDir
    Path dir;

    @Test
    void decodeStepsAllocateZeroBytesOnEveryThread() {
        // Big enough that every kernel runs both its vector loops and its tails, small enough to warm up fast.
        Path file = dir.resolve("model.bin");
        SyntheticCheckpoint.write(file, new GPT2Config(1024, 1000, 1024, 2, 4, 132, DType.FP32), 3);
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

        try (Model model = Model.open(file, 2); Session session = model.newSession()) {
            Thread[] threads = new Thread[model.workerThreads().length + 1];
            threads[0] = Thread.currentThread();
            System.arraycopy(model.workerThreads(), 0, threads, 1, threads.length - 1);

            // Warm-up: until C2 has compiled every kernel (then the Vector API's objects are scalar-replaced)
            // a window of steps allocates; wait for the first clean window, however long this JVM takes
            // (on a loaded machine the compiler threads get little CPU, and other tests filled their queue).
            int warmUpWindows = 0;
            long deadline = System.nanoTime() + WARM_UP_LIMIT_NANOS;
            while (total(decodeWindow(session, mx, threads)) != 0) {
                warmUpWindows++;
                assertTrue(System.nanoTime() < deadline, "decode steps still allocate after " + warmUpWindows + " windows of warm-up");
            }
            // Measured: two more windows, every thread exactly zero.
            for (int window = 0; window < 2; window++) {
                long[] bytes = decodeWindow(session, mx, threads);
                for (int i = 0; i < threads.length; i++) {
                    assertEquals(0, bytes[i], "bytes allocated by " + threads[i].getName() + " over " + MEASURED_STEPS
                            + " decode steps (after " + warmUpWindows + " warm-up windows)");
                }
            }
        }
    }
}
