package tinyllm.api;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.Allocations;
import tinyllm.Fixtures;
import tinyllm.checkpoint.SyntheticCheckpoint;
import tinyllm.kernels.MatMul;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;
import tinyllm.runtime.WorkerPool;
import tinyllm.tokenizer.GPT2Tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * After warm-up, generating allocates nothing on the Java heap: not on the thread that drives the
 * session, not on any worker, in fp32, bf16 and q8. Measured with the JVM's per-thread allocation
 * counters, which {@link #theCountersSeeAllocationsOnTheCallerAndOnOtherThreads} first proves can see
 * an allocation at all.
 */
class ZeroAllocationTest {
    static final int MEASURED_STEPS = 250;
    /** Tokens 1..85: more rows than {@link MatMul#GEMM_MIN_ROWS}, so a prompt of it runs the GEMM, rows left over too. */
    static final int[] PROMPT = java.util.stream.IntStream.rangeClosed(1, 85).toArray();

    /** Where the positive controls' allocations go, so that the JIT cannot prove them dead. */
    static volatile Object sink;

    @TempDir
    Path dir;

    /** The caller first (as {@link Allocations#measure} wants), then the model's workers. */
    static Thread[] callerAndWorkers(Model model) {
        Thread[] threads = new Thread[model.workerThreads().length + 1];
        threads[0] = Thread.currentThread();
        System.arraycopy(model.workerThreads(), 0, threads, 1, threads.length - 1);
        return threads;
    }

    static void assertNothingAllocated(long[] bytes, Thread[] threads, String what) {
        for (int i = 0; i < threads.length; i++) {
            assertEquals(0, bytes[i], "bytes allocated by " + threads[i].getName() + " over " + what);
        }
    }

    /** The positive control: were the counters off or blind to a thread, every check below would pass. */
    @Test
    void theCountersSeeAllocationsOnTheCallerAndOnOtherThreads() throws InterruptedException {
        Allocations.requireCounting();
        Thread caller = Thread.currentThread();
        assertTrue(Allocations.measure(() -> sink = new byte[4096], caller)[0] >= 4096, "the caller's 4 KB");

        CountDownLatch go = new CountDownLatch(1), done = new CountDownLatch(1);
        Thread other = new Thread(() -> {
            try {
                go.await();
                sink = new byte[1 << 20];
                done.countDown();
                Thread.sleep(60_000); // stays alive until interrupted: a dead thread's counter reads -1
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "allocating-thread");
        other.start();
        try {
            long[] bytes = Allocations.measure(() -> {
                go.countDown();
                try {
                    assertTrue(done.await(30, TimeUnit.SECONDS));
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }, caller, other);
            assertTrue(bytes[1] >= 1 << 20, "another thread's 1 MB, measured " + bytes[1]);
        } finally {
            other.interrupt();
            other.join();
        }
    }

    /** And through the engine: a window that opens a session allocates, and must be seen to. */
    @Test
    void aWindowThatAllocatesMeasuresMoreThanZero() {
        try (Model model = Model.open(Fixtures.path("micro.bin"), 2)) {
            Thread[] threads = callerAndWorkers(model);
            long[] bytes = Allocations.measure(() -> model.newSession().close(), threads);
            assertTrue(bytes[0] > 0, "opening a session allocates its Java objects");
        }
    }

    @Test
    void promptAndDecodeStepsAllocateZeroBytesOnEveryThread() {
        // Big enough that every kernel runs both its vector loops and its tails, small enough to warm up fast.
        Path file = dir.resolve("model.bin");
        SyntheticCheckpoint.write(file, new GPT2Config(1024, 1000, 1024, 2, 4, 132, DType.FP32), 3);
        assertPromptAndDecodeAllocateNothing(file, MEASURED_STEPS);
    }

    /** bf16 has its own kernels (widening in registers at decode, while packing in the GEMM). */
    @Test
    void bf16PromptAndDecodeStepsAllocateZeroBytesOnEveryThread() {
        Path file = dir.resolve("model-bf16.bin");
        SyntheticCheckpoint.write(file, new GPT2Config(1024, 1000, 1024, 2, 4, 132, DType.BF16), 3);
        assertPromptAndDecodeAllocateNothing(file, 40);
    }

    /**
     * q8 has its own decode kernel (int8 widened in registers, a scale per block), widens four rows at a time for a
     * batch of rows, and widens while packing in the GEMM. C = 128: blocks of 32, whole pairs of vectors at any width.
     */
    @Test
    void q8PromptAndDecodeStepsAllocateZeroBytesOnEveryThread() {
        Path file = dir.resolve("model-q8.bin");
        SyntheticCheckpoint.write(file, new GPT2Config(1024, 1000, 1024, 2, 4, 128, DType.Q8), 3);
        assertPromptAndDecodeAllocateNothing(file, 40);
    }

    /**
     * A warm-up of varied prompt lengths (1 to 7 rows and 17: the decode kernels batched and the GEMM) and then a
     * steady window of another length. Once, the attention softmax C2 compiled after such a warm-up kept a
     * vector boxed and allocated on every step, forever (examples/VariedWarmUp reproduces the old code's 4 KB
     * per window); the measurement's positive controls are the tests at the end of this class.
     */
    @Test
    void aWarmUpOfVariedPromptLengthsStillEndsAtZeroBytes() {
        try (Model model = Model.open(Fixtures.path("micro.bin"), 2); Session session = model.newSession()) {
            Thread[] threads = callerAndWorkers(model);
            int[] lengths = {1, 2, 3, 4, 5, 6, 7, 17};
            for (int round = 0; round < 40; round++) {
                for (int length : lengths) {
                    session.reset();
                    session.prefill(PROMPT, 0, length); // (micro.bin's context is 64)
                    session.append(session.argmax());
                }
            }
            int[] prompt = {46, 20, 75};
            Runnable window = () -> {
                session.reset();
                session.prefill(prompt, 0, prompt.length);
                for (int step = 0; step < 8; step++) {
                    session.append(session.argmax());
                }
            };
            Allocations.warmUp("a prompt of 3 tokens and 8 steps after a varied warm-up", window, threads);
            assertNothingAllocated(Allocations.measureSteady(window, threads), threads,
                    "a prompt of 3 tokens and 8 steps after a varied warm-up");
        }
    }

    void assertPromptAndDecodeAllocateNothing(Path file, int steps) {
        try (Model model = Model.open(file, 2); Session session = model.newSession()) {
            Thread[] threads = callerAndWorkers(model);
            Runnable window = () -> {
                session.reset();
                session.prefill(PROMPT, 0, PROMPT.length);
                for (int step = 0; step < steps; step++) {
                    session.append(session.argmax());
                }
            };
            Allocations.warmUp("a prompt and " + steps + " decode steps", window, threads);
            // Measured: two more windows, every thread exactly zero.
            for (int w = 0; w < 2; w++) {
                assertNothingAllocated(Allocations.measureSteady(window, threads), threads,
                        "a prompt of " + PROMPT.length + " tokens and " + steps + " decode steps on " + file.getFileName());
                assertEquals(PROMPT.length + steps, session.position());
            }
        }
    }

    /**
     * The whole generation loop, as an embedding program runs it: choose (greedy or sampling), feed back,
     * stream the text into the generator's reused buffer, hand it to a listener. 500 tokens per window.
     */
    @Test
    void generationWithGreedyAndSamplingAllocatesZeroBytesOnEveryThread() {
        Path file = dir.resolve("model.bin");
        SyntheticCheckpoint.write(file, new GPT2Config(1024, 50257, 50304, 1, 2, 64, DType.FP32), 5);
        GPT2Tokenizer tokenizer = new GPT2Tokenizer();
        long[] streamed = new long[1];
        Generator.Listener listener = (step, token, text, length) -> streamed[0] += length;
        try (Model model = Model.open(file, 2); Session session = model.newSession()) {
            Thread[] threads = callerAndWorkers(model);
            int[] out = new int[500];
            for (TokenChooser chooser : new TokenChooser[] {new Greedy(), new Sampler(50257, 0.9f, 40, 0.95f, 1)}) {
                Generator generator = new Generator(chooser, tokenizer, false, List.of("no such text"));
                Runnable window = () -> {
                    session.reset();
                    Generator.Result result = generator.generate(session, PROMPT, out, listener);
                    assertEquals(out.length, result.newTokens());
                };
                Allocations.warmUp(chooser.describe(), window, threads);
                assertNothingAllocated(Allocations.measureSteady(window, threads), threads,
                        "500 tokens generated by " + chooser.describe());
            }
            assertTrue(streamed[0] > 0, "the listener saw the text");
        }
    }

    /**
     * A server's steady load: 16 sequences joining two steps apart, each prompt of 10 tokens fed in chunks of
     * 4 rows while the earlier ones decode one row a step on their greedy choice, until all 16 decode
     * together. 40 steps per window, every step's logits read; the caller and every worker allocate nothing.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"FP32", "Q8"})
    void batchedStepsOfPromptAndDecodeRowsAllocateZeroBytesOnEveryThread(DType dtype) {
        int sequences = 16, steps = 40, promptLength = 10, chunk = 4;
        Path file = dir.resolve("model.bin");
        // C = 128, a whole number of vectors at any width: blocks of four rows take MatMul.dot4x4 (q8: after
        // widening four weight rows).
        SyntheticCheckpoint.write(file, new GPT2Config(1024, 1000, 1024, 2, 4, 128, dtype), 3);
        try (Model model = Model.open(file, 2); BatchRunner runner = model.newBatchRunner(sequences + chunk * 2)) {
            Thread[] threads = callerAndWorkers(model);
            Sequence[] seqs = new Sequence[sequences];
            for (int s = 0; s < sequences; s++) seqs[s] = runner.newSequence(promptLength + steps);
            int[][] next = new int[sequences][1];
            int[] rowsPerStep = new int[steps];
            Runnable window = () -> {
                for (Sequence seq : seqs) seq.reset();
                for (int step = 0; step < steps; step++) {
                    for (int s = 0; s < sequences && s * 2 <= step; s++) {
                        int at = seqs[s].position();
                        if (at < promptLength) {
                            int rows = Math.min(chunk, promptLength - at);
                            runner.add(seqs[s], PROMPT, at, rows, at + rows == promptLength);
                        } else {
                            runner.add(seqs[s], next[s], 0, 1, true);
                        }
                    }
                    rowsPerStep[step] = runner.queuedRows();
                    runner.step();
                    for (int s = 0; s < sequences && s * 2 <= step; s++) {
                        if (seqs[s].position() >= promptLength) {
                            next[s][0] = tinyllm.kernels.Argmax.forward(runner.logits(seqs[s]), 1000);
                        }
                    }
                }
            };
            Allocations.warmUp("batched steps", window, threads);
            assertNothingAllocated(Allocations.measureSteady(window, threads), threads, steps + " batched steps");
            assertEquals(sequences, rowsPerStep[steps - 1], "at the end all 16 decode together");
            assertTrue(java.util.Arrays.stream(rowsPerStep).max().getAsInt() > sequences,
                    "prompt chunks ran in the same steps as decode rows");
        }
    }

    /**
     * The positive control: the same measurement (steady windows, as the checks above take them) sees an
     * allocation, on the caller and on a pool worker.
     */
    @Test
    void theMeasurementSeesAnAllocationOnTheCallerAndOnAWorker() {
        try (WorkerPool pool = new WorkerPool(2)) {
            Thread[] threads = {Thread.currentThread(), pool.threads()[0]};
            long[] callerOnly = Allocations.measureSteady(() -> sink = new long[1000], threads);
            assertTrue(callerOnly[0] >= 8000, "caller: " + callerOnly[0]);
            long[] worker = Allocations.measureSteady(() -> pool.run((w, n) -> {
                if (w == 1) sink = new long[1000];
            }), threads);
            assertTrue(worker[1] >= 8000, "worker: " + worker[1]);
        }
    }
}
