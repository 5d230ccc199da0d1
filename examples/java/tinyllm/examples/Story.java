package tinyllm.examples;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

import tinyllm.api.Generator;
import tinyllm.api.Model;
import tinyllm.api.Sampler;
import tinyllm.api.Session;
import tinyllm.tokenizer.GPT2Tokenizer;

/**
 * Embedding tinyllm: open a model once, make a session, stream a story to standard output, print what
 * it cost. Run it with the engine's JVM flags:
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *      -cp target/tinyllm.jar tinyllm.examples.Story weights/gpt2-124M.bin "Once upon a time"
 * </pre>
 */
public final class Story {
    public static void main(String[] args) {
        Path checkpoint = Path.of(args.length > 0 ? args[0] : "weights/gpt2-124M.bin");
        String prompt = args.length > 1 ? args[1] : "Once upon a time";
        PrintStream out = new PrintStream(System.out, true, java.nio.charset.StandardCharsets.UTF_8);
        GPT2Tokenizer tokenizer = new GPT2Tokenizer();

        // One model per process: its weights are mapped, not loaded, and its worker threads serve every session.
        try (Model model = Model.open(checkpoint); Session session = model.newSession()) {
            // Sampling, stopping at end-of-text or at a blank line; 200 new tokens at most.
            Sampler sampler = new Sampler(model.config().vocabSize(), 0.8f, 40, 0.95f, 42);
            Generator generator = new Generator(sampler, tokenizer, true, List.of("\n\n"));
            int[] story = new int[200];

            out.print(prompt);
            Generator.Result result = generator.generate(session, tokenizer.encode(prompt), story,
                    (step, token, text, length) -> out.write(text, 0, length)); // complete UTF-8 only, never half a character
            out.println();
            out.printf("%n[%d tokens, %s; prompt %.1f ms, %.1f tokens/s after it; stopped: %s]%n",
                    result.newTokens(), sampler.describe(), result.prefillNanos() / 1e6,
                    result.decodeSteps() / (result.decodeNanos() / 1e9), result.stopReason());
        }
    }
}
