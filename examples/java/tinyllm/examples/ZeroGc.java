package tinyllm.examples;

import java.nio.file.Path;
import java.util.List;

import tinyllm.api.Generator;
import tinyllm.api.Model;
import tinyllm.api.Sampler;
import tinyllm.api.Session;
import tinyllm.tokenizer.GPT2Tokenizer;

/**
 * Generates N tokens through the API as an embedding program would (a {@link Generator} with a top-k/top-p
 * {@link Sampler}, the text streamed to a listener) under {@code -XX:+UseEpsilonGC}, a JVM with no garbage
 * collector, and fails unless the heap stayed flat after warm-up. Epsilon never frees, so the heap in use
 * only grows: read after a warm-up generation and again after the measured one, any growth beyond
 * {@value #SLACK_BYTES} bytes is garbage made per token, and the exit code is {@value #EXIT_HEAP_GREW}.
 * {@code .ci/run} runs it with {@code -Xmx64m}:
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *      -XX:+UnlockExperimentalVMOptions -XX:+UseEpsilonGC -XX:-UseTLAB -Xmx64m -Xbatch -XX:CompileThresholdScaling=0.02 \
 *      -cp target/tinyllm.jar tinyllm.examples.ZeroGc weights/synthetic-124M.bin 900
 * </pre>
 *
 * {@code -XX:-UseTLAB} makes the heap's "used" exact: with thread-local allocation buffers it moves a whole
 * buffer at a time, so a little garbage could hide in a buffer handed out during warm-up. The two JIT flags
 * matter: until C2 compiles a kernel, the interpreter and C1 allocate an object for every Vector API
 * operation. Compiling early ({@code CompileThresholdScaling}) and synchronously ({@code -Xbatch}, so nothing
 * keeps running in the slow tiers meanwhile) keeps that warm-up garbage to about 11 MB; after it, nothing
 * is allocated at all.
 *
 * <p>The check's positive control: {@code -Dtinyllm.zerogc.garbagePerToken=16384} makes the listener
 * allocate (and keep reachable) that many bytes per token, and the run must then fail; {@code .ci/run} does
 * this once, so the check is seen to be able to fail.
 */
public final class ZeroGc {
    /** Growth of the heap in use after warm-up that still passes: a few objects, not one per token. */
    static final long SLACK_BYTES = 64 * 1024;
    static final int EXIT_HEAP_GREW = 3;
    static final int WARM_UP_TOKENS = 100;
    static final int[] PROMPT = {464, 2068, 7586}; // any prompt: the weights are what is measured

    /** Where the positive control's garbage goes, so that the JIT cannot prove it dead and elide it. */
    static volatile byte[] garbage;

    public static void main(String[] args) {
        Path checkpoint = Path.of(args.length > 0 ? args[0] : "weights/synthetic-124M.bin");
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 900;
        int garbagePerToken = Integer.getInteger("tinyllm.zerogc.garbagePerToken", 0);
        GPT2Tokenizer tokenizer = new GPT2Tokenizer();
        try (Model model = Model.open(checkpoint); Session session = model.newSession()) {
            Sampler sampler = new Sampler(model.config().vocabSize(), 0.8f, 40, 0.95f, 42);
            Generator generator = new Generator(sampler, tokenizer, false, List.of("no such text"));
            long[] streamed = new long[1];
            Generator.Listener listener = (step, token, text, length) -> {
                streamed[0] += length;
                if (garbagePerToken > 0) {
                    garbage = new byte[garbagePerToken];
                }
            };

            generator.generate(session, PROMPT, new int[WARM_UP_TOKENS], listener);
            session.reset();
            int[] out = new int[tokens];
            long before = heapUsed(), start = System.nanoTime();
            Generator.Result result = generator.generate(session, PROMPT, out, listener);
            double seconds = (System.nanoTime() - start) / 1e9;
            long grew = heapUsed() - before;

            System.out.printf("%d tokens in %.1f s (%.1f tokens/s), %d bytes of text; heap used %d MB of %d MB,"
                            + " grew by %d bytes after a warm-up of %d tokens (slack %d)%n",
                    result.newTokens(), seconds, result.newTokens() / seconds, streamed[0], heapUsed() >> 20,
                    Runtime.getRuntime().maxMemory() >> 20, grew, WARM_UP_TOKENS, SLACK_BYTES);
            if (result.newTokens() != tokens) {
                throw new IllegalStateException("generated " + result.newTokens() + " of " + tokens + " tokens");
            }
            if (grew > SLACK_BYTES) {
                System.err.printf("error: the heap grew by %d bytes over %d tokens after warm-up (%d bytes per token):"
                        + " something allocates per token%n", grew, tokens, grew / tokens);
                System.exit(EXIT_HEAP_GREW);
            }
        }
    }

    /** Bytes of heap in use; under Epsilon (which never frees) and without TLABs, every byte ever allocated. */
    private static long heapUsed() {
        Runtime runtime = Runtime.getRuntime();
        return runtime.totalMemory() - runtime.freeMemory();
    }
}
