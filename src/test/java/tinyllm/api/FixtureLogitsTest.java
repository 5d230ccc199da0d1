package tinyllm.api;

import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import tinyllm.Fixtures;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static tinyllm.Fixtures.LOGIT_TOLERANCE;

/** The engine against llm.c's own outputs on the same checkpoints, through every path into the KV cache. */
class FixtureLogitsTest {

    static float[] logits(Session session) {
        return session.logits().toArray(ValueLayout.JAVA_FLOAT);
    }

    /** Feeds one token at a time: every position's logits come from a decode step over the cache. */
    static void assertStepwise(Session session, int[] tokens, float[][] expected) {
        for (int t = 0; t < tokens.length; t++) {
            session.append(tokens[t]);
            float diff = Fixtures.maxAbsDiff(expected[t], logits(session));
            assertTrue(diff < LOGIT_TOLERANCE, "position " + t + ": max |engine - llm.c| = " + diff);
        }
    }

    /** Feeds the prompt in pieces of the given sizes: prefill at positions other than zero. */
    static void assertChunked(Session session, int[] tokens, float[][] expected, int... pieces) {
        session.reset();
        int at = 0;
        for (int piece : pieces) {
            session.prefill(tokens, at, piece);
            at += piece;
            float diff = Fixtures.maxAbsDiff(expected[at - 1], logits(session));
            assertTrue(diff < LOGIT_TOLERANCE, "after " + at + " tokens: max |engine - llm.c| = " + diff);
        }
    }

    @ParameterizedTest(name = "{0} threads")
    @ValueSource(ints = {1, 2, 3})
    void microPrompt8MatchesLlmC(int threads) {
        float[][] expected = Fixtures.logits("micro.prompt8.logits.f32", 500);
        try (Model model = Model.open(Fixtures.path("micro.bin"), threads); Session session = model.newSession()) {
            assertStepwise(session, Fixtures.PROMPT8_MICRO, expected);
            assertChunked(session, Fixtures.PROMPT8_MICRO, expected, 8);
            assertChunked(session, Fixtures.PROMPT8_MICRO, expected, 3, 5);
            assertChunked(session, Fixtures.PROMPT8_MICRO, expected, 1, 6, 1);
        }
    }

    @ParameterizedTest(name = "{0} threads")
    @ValueSource(ints = {1, 2})
    void microFullContextMatchesLlmC(int threads) {
        float[][] expected = Fixtures.logits("micro.full64.logits.f32", 500);
        int[] tokens = Fixtures.full64Tokens();
        try (Model model = Model.open(Fixtures.path("micro.bin"), threads); Session session = model.newSession()) {
            assertStepwise(session, tokens, expected);
            assertChunked(session, tokens, expected, 64);
            assertChunked(session, tokens, expected, 17, 30, 16, 1);
        }
    }

    @ParameterizedTest(name = "{0} threads")
    @ValueSource(ints = {1, 2})
    void vocabPrompt8MatchesLlmC(int threads) {
        float[][] expected = Fixtures.logits("vocab.prompt8.logits.f32", 50257);
        try (Model model = Model.open(Fixtures.path("vocab.bin"), threads); Session session = model.newSession()) {
            assertStepwise(session, Fixtures.PROMPT8_VOCAB, expected);
            assertChunked(session, Fixtures.PROMPT8_VOCAB, expected, 8);
            assertChunked(session, Fixtures.PROMPT8_VOCAB, expected, 4, 4);
        }
    }

    /** llm.c computed these on the fp32 twin holding exactly the bf16 file's values (see the fixtures' README). */
    @ParameterizedTest(name = "{0} threads")
    @ValueSource(ints = {1, 2})
    void microBf16Prompt8MatchesLlmC(int threads) {
        float[][] expected = Fixtures.logits("micro-bf16.prompt8.logits.f32", 500);
        try (Model model = Model.open(Fixtures.path("micro-bf16.bin"), threads); Session session = model.newSession()) {
            assertStepwise(session, Fixtures.PROMPT8_MICRO, expected);
            assertChunked(session, Fixtures.PROMPT8_MICRO, expected, 8);
            assertChunked(session, Fixtures.PROMPT8_MICRO, expected, 5, 3);
        }
    }

    @Test
    void greedyTokensMatchLlmC() {
        assertGreedy("micro.bin", Fixtures.GREEDY_PROMPT_MICRO, "micro.greedy.txt");
        assertGreedy("micro-bf16.bin", Fixtures.GREEDY_PROMPT_MICRO, "micro-bf16.greedy.txt");
        assertGreedy("vocab.bin", Fixtures.ONCE_UPON_A_TIME, "vocab.greedy.txt");
    }

    private static void assertGreedy(String checkpoint, int[] prompt, String greedyFile) {
        int[] expected = Fixtures.greedyTokens(greedyFile);
        try (Model model = Model.open(Fixtures.path(checkpoint), 2); Session session = model.newSession()) {
            int[] out = new int[expected.length];
            new Generator(new Greedy(), new tinyllm.tokenizer.GPT2Tokenizer(), false, java.util.List.of()).generate(session, prompt, out, null);
            assertArrayEquals(expected, out, checkpoint);
        }
    }
}
