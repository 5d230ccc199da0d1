package tinyllm.bench.jmh;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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

import tinyllm.api.Model;
import tinyllm.api.Session;
import tinyllm.reference.NaiveGPT2;

/**
 * The whole GPT-2 124M forward pass on the synthetic checkpoint (random weights of the real shape; the
 * speed does not depend on the values): the engine's {@link Session} against {@link NaiveGPT2.Cached},
 * the same model with a KV cache in plain float[] loops on one thread. Both sides feed the same tokens
 * and compute logits for the last position only.
 *
 * <p>Decode: one token at position context - 1, so it attends over {@code context} positions; the
 * first context - 1 tokens are prefilled once per trial and each call rewinds to them. Prefill: a
 * prompt of {@code prompt} tokens from an empty context (the engine in batched passes, the naive model
 * token by token, as each would run a real prompt).
 *
 * <p>The checkpoint is {@code -Dtinyllm.bench.checkpoint=FILE}, else weights/synthetic-124M.bin below
 * the working directory or its parent (bench/run passes the property).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-Djdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK=0", "-Xmx3g"})
public class ModelBench {
    /** Every decode step feeds this token: its value does not change the work. */
    static final int TOKEN = 464;

    @State(Scope.Benchmark)
    public static class EngineDecode {
        @Param({"1", "2"})
        public int threads;
        @Param({"16", "256", "1000"})
        public int context;

        Model model;
        Session session;

        @Setup
        public void setUp() {
            model = Model.open(checkpoint(), threads);
            session = model.newSession();
            session.prefill(tokens(context - 1, model.config().vocabSize()), 0, context - 1);
        }

        @TearDown
        public void tearDown() {
            session.close();
            model.close();
        }
    }

    @State(Scope.Benchmark)
    public static class NaiveDecode {
        @Param({"16", "256", "1000"})
        public int context;

        NaiveGPT2.Cached cached;

        @Setup
        public void setUp() throws IOException {
            NaiveGPT2 model = NaiveGPT2.load(checkpoint());
            cached = model.new Cached();
            cached.prefill(tokens(context - 1, model.V), context - 1);
        }
    }

    @State(Scope.Benchmark)
    public static class EnginePrefill {
        @Param({"1", "2"})
        public int threads;
        @Param({"128", "512"})
        public int prompt;

        Model model;
        Session session;
        int[] tokens;

        @Setup
        public void setUp() {
            model = Model.open(checkpoint(), threads);
            session = model.newSession();
            tokens = tokens(prompt, model.config().vocabSize());
        }

        @TearDown
        public void tearDown() {
            session.close();
            model.close();
        }
    }

    @State(Scope.Benchmark)
    public static class NaivePrefill {
        @Param({"128", "512"})
        public int prompt;

        NaiveGPT2.Cached cached;
        int[] tokens;

        @Setup
        public void setUp() throws IOException {
            NaiveGPT2 model = NaiveGPT2.load(checkpoint());
            cached = model.new Cached();
            tokens = tokens(prompt, model.V);
        }
    }

    @Benchmark
    @Warmup(iterations = 2, time = 1)
    @Measurement(iterations = 5, time = 1)
    public void decodeEngine(EngineDecode s) {
        s.session.rewind(s.context - 1);
        s.session.append(TOKEN);
    }

    @Benchmark
    @Warmup(iterations = 2, time = 2)
    @Measurement(iterations = 5, time = 2)
    public void decodeNaive(NaiveDecode s) {
        s.cached.rewind(s.context - 1);
        s.cached.decode(TOKEN);
    }

    /** The first call takes seconds (the JIT compiling the kernels): the warm-up iterations absorb it. */
    @Benchmark
    @Warmup(iterations = 2, time = 2)
    @Measurement(iterations = 5, time = 2)
    public void prefillEngine(EnginePrefill s) {
        s.session.reset();
        s.session.prefill(s.tokens, 0, s.prompt);
    }

    /**
     * Tens of seconds per call at 512 tokens: one warm-up call, then two timed ones. Enough here, because
     * the first token's loops already run long enough for C2 to compile them.
     */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @Warmup(iterations = 1)
    @Measurement(iterations = 2)
    public void prefillNaive(NaivePrefill s) {
        s.cached.rewind(0);
        s.cached.prefill(s.tokens, s.prompt);
    }

    /** The same pseudo-random prompt for both sides. */
    static int[] tokens(int count, int vocabSize) {
        SplittableRandom random = new SplittableRandom(1);
        int[] tokens = new int[count];
        for (int i = 0; i < count; i++) {
            tokens[i] = random.nextInt(vocabSize);
        }
        return tokens;
    }

    static Path checkpoint() {
        String given = System.getProperty("tinyllm.bench.checkpoint");
        List<Path> candidates = given != null ? List.of(Path.of(given))
                : List.of(Path.of("weights/synthetic-124M.bin"), Path.of("../weights/synthetic-124M.bin"));
        for (Path candidate : candidates) {
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("no checkpoint at " + candidates + " (from " + Path.of("").toAbsolutePath()
                + "): bench/run writes one, or run ./tinyllm synthetic --shape 124M, or pass -Dtinyllm.bench.checkpoint=FILE");
    }
}
