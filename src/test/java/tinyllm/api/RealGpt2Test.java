package tinyllm.api;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import tinyllm.tokenizer.GPT2Tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Acceptance on OpenAI's real GPT-2 124M, when it has been downloaded ({@code ./tinyllm download gpt2});
 * reported as skipped otherwise. The continuation is the one GPT-2 itself gives greedily.
 */
class RealGpt2Test {
    static final Path WEIGHTS = Path.of("weights", "gpt2-124M.bin");

    @Test
    void onceUponATimeGreedily() {
        assumeTrue(Files.isRegularFile(WEIGHTS), "no " + WEIGHTS + ": run ./tinyllm download gpt2 to include this test");
        GPT2Tokenizer tokenizer = new GPT2Tokenizer();
        try (Model model = Model.open(WEIGHTS); Session session = model.newSession()) {
            int[] out = new int[20];
            new Generator(new Greedy(), new tinyllm.tokenizer.GPT2Tokenizer(), false, java.util.List.of()).generate(session, tokenizer.encode("Once upon a time"), out, null);
            assertArrayEquals(new int[] {11, 262, 995, 373, 257}, java.util.Arrays.copyOf(out, 5));
            assertEquals(", the world was a place of great beauty and great danger. The world was a place of great",
                    tokenizer.decode(out));
        }
    }
}
