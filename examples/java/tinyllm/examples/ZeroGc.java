package tinyllm.examples;

import java.nio.file.Path;

import tinyllm.api.Model;
import tinyllm.api.Session;

/**
 * Generates N tokens greedily through the API and reports the heap it used: the proof, run under
 * {@code -XX:+UseEpsilonGC} (a JVM with no garbage collector: the first time the heap is full it
 * stops), that generation produces no garbage. {@code .ci/run} runs it with {@code -Xmx64m}:
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *      -XX:+UnlockExperimentalVMOptions -XX:+UseEpsilonGC -Xmx64m -Xbatch -XX:CompileThresholdScaling=0.02 \
 *      -cp target/tinyllm.jar tinyllm.examples.ZeroGc weights/synthetic-124M.bin 900
 * </pre>
 *
 * The two JIT flags matter: until C2 compiles a kernel, the interpreter and C1 allocate an object for
 * every Vector API operation. Compiling early ({@code CompileThresholdScaling}) and synchronously
 * ({@code -Xbatch}, so nothing keeps running in the slow tiers meanwhile) keeps that warm-up garbage to
 * about 11 MB on the 124M shape (see the README); after it, nothing is allocated at all.
 */
public final class ZeroGc {
    public static void main(String[] args) {
        Path checkpoint = Path.of(args.length > 0 ? args[0] : "weights/synthetic-124M.bin");
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 900;
        try (Model model = Model.open(checkpoint); Session session = model.newSession()) {
            session.prefill(new int[] {464, 2068, 7586}); // any prompt: the weights are what is measured
            long start = System.nanoTime();
            for (int i = 0; i < tokens; i++) {
                session.append(session.argmax());
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            Runtime rt = Runtime.getRuntime();
            System.out.printf("%d tokens in %.1f s (%.1f tokens/s); heap used %d MB of %d MB%n",
                    tokens, seconds, tokens / seconds, (rt.totalMemory() - rt.freeMemory()) >> 20, rt.maxMemory() >> 20);
        }
    }
}
