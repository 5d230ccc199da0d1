package tinyllm.reference;

import java.io.IOException;

import org.junit.jupiter.api.Test;

import tinyllm.Fixtures;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reference must itself agree with llm.c, or testing the engine against it proves nothing. */
class NaiveGPT2Test {

    @Test
    void microLogitsMatchLlmC() throws IOException {
        NaiveGPT2 model = NaiveGPT2.load(Fixtures.path("micro.bin"));
        assertAllRows(Fixtures.logits("micro.full64.logits.f32", 500), model.forward(Fixtures.full64Tokens()));
        assertAllRows(Fixtures.logits("micro.prompt8.logits.f32", 500), model.forward(Fixtures.PROMPT8_MICRO));
    }

    @Test
    void vocabLogitsMatchLlmC() throws IOException {
        NaiveGPT2 model = NaiveGPT2.load(Fixtures.path("vocab.bin"));
        assertAllRows(Fixtures.logits("vocab.prompt8.logits.f32", 50257), model.forward(Fixtures.PROMPT8_VOCAB));
    }

    @Test
    void greedyMatchesLlmC() throws IOException {
        int[] expected = Fixtures.greedyTokens("micro.greedy.txt");
        assertArrayEquals(expected, NaiveGPT2.load(Fixtures.path("micro.bin")).greedy(Fixtures.GREEDY_PROMPT_MICRO, expected.length));
    }

    @Test
    void cachedDecodeMatchesLlmC() throws IOException {
        NaiveGPT2.Cached cached = NaiveGPT2.load(Fixtures.path("micro.bin")).new Cached();
        float[][] expected = Fixtures.logits("micro.full64.logits.f32", 500);
        int[] tokens = Fixtures.full64Tokens();
        for (int t = 0; t < tokens.length; t++) {
            cached.decode(tokens[t]);
            assertTrue(Fixtures.maxAbsDiff(expected[t], cached.logits) < Fixtures.LOGIT_TOLERANCE, "position " + t);
        }
        cached.rewind(0);
        cached.prefill(Fixtures.PROMPT8_MICRO, 8);
        assertTrue(Fixtures.maxAbsDiff(Fixtures.logits("micro.prompt8.logits.f32", 500)[7], cached.logits) < Fixtures.LOGIT_TOLERANCE);
    }

    static void assertAllRows(float[][] expected, float[][] actual) {
        for (int t = 0; t < expected.length; t++) {
            float diff = Fixtures.maxAbsDiff(expected[t], actual[t]);
            assertTrue(diff < Fixtures.LOGIT_TOLERANCE, "row " + t + ": " + diff);
        }
    }
}
