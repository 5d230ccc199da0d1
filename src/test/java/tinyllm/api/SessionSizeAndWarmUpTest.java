package tinyllm.api;

import java.lang.foreign.ValueLayout;
import java.time.Duration;

import org.junit.jupiter.api.Test;

import tinyllm.Fixtures;
import tinyllm.TinyLlmException;
import tinyllm.model.DType;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Sessions sized to the request (contract C2), and the kernel warm-up that runs only when asked. */
class SessionSizeAndWarmUpTest {

    static float[] logits(Session session) {
        return session.logits().toArray(ValueLayout.JAVA_FLOAT);
    }

    static void assertClose(float[] expected, float[] actual, String where) {
        assertEquals(expected.length, actual.length);
        float diff = Fixtures.maxAbsDiff(expected, actual);
        assertTrue(diff < Fixtures.LOGIT_TOLERANCE, where + ": max |full - small| = " + diff);
    }

    @Test
    void aSmallSessionComputesWhatAFullOneComputesAndHoldsNoMore() {
        int[] tokens = Fixtures.full64Tokens();
        try (Model model = Model.open(Fixtures.path("micro.bin"), 2);
             Session full = model.newSession();
             Session small = model.newSession(21)) {
            assertEquals(64, full.contextLength());
            assertEquals(21, small.contextLength());
            // 17 prompt rows (blocks of four rows and a tail), then decode steps up to the last position. Equal to
            // float rounding, not bit for bit: C2 may replace a kernel between the two sessions' calls, and the
            // Vector API's reduceLanes(ADD) adds the lanes in another order in C2 than in the interpreter or C1.
            full.prefill(tokens, 0, 17);
            small.prefill(tokens, 0, 17);
            assertClose(logits(full), logits(small), "after the prompt");
            for (int i = 17; i < 21; i++) {
                full.append(tokens[i]);
                small.append(tokens[i]);
                assertClose(logits(full), logits(small), "after position " + i);
            }
            TinyLlmException e = assertThrows(TinyLlmException.class, () -> small.append(1));
            assertTrue(e.getMessage().contains("21 tokens held + 1 new would exceed this session's capacity of 21 tokens"), e.getMessage());
            full.append(1); // the positive control: the full session still has room
        }
    }

    @Test
    void aSessionHoldsOneToMaxTTokens() {
        try (Model model = Model.open(Fixtures.path("micro.bin"), 1)) {
            for (int bad : new int[] {0, -1, 65}) {
                TinyLlmException e = assertThrows(TinyLlmException.class, () -> model.newSession(bad));
                assertTrue(e.getMessage().contains("1 to 64") && e.getMessage().contains(String.valueOf(bad)), e.getMessage());
            }
            try (Session one = model.newSession(1)) {
                one.prefill(new int[] {7});
                assertEquals(1, one.position());
            }
        }
    }

    static boolean warmUpRunning() {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("tinyllm-warm-up") && t.isAlive());
    }

    @Test
    void theWarmUpRunsOnlyWhenAskedAndStopsOnClose() throws Exception {
        try (Model model = Model.open(Fixtures.path("micro.bin"), 2); Session session = model.newSession()) {
            session.prefill(new int[] {1, 2, 3});
            session.append(session.argmax());
            assertFalse(warmUpRunning(), "opening a model and generating starts no warm-up");
        }
        for (DType dtype : DType.values()) {
            WarmUp warmUp = Model.warmUp(dtype);
            assertTrue(warmUpRunning(), "Model.warmUp starts one");
            assertEquals(dtype, warmUp.dtype());
            assertFalse(assertTimeoutPreemptively(Duration.ofSeconds(5), () -> warmUp.awaitRounds(Integer.MAX_VALUE, 0)),
                    "no wait past the timeout");
            assertTrue(warmUp.awaitRounds(2, 60_000_000_000L), dtype + ": awaitRounds returns once the rounds are reached");
            warmUp.close();
            assertTrue(warmUp.rounds() >= 2, dtype + ": the tiny model ran through prompts and decode steps");
            assertFalse(warmUpRunning(), "close() stops it");
            assertFalse(assertTimeoutPreemptively(Duration.ofSeconds(5), () -> warmUp.awaitRounds(warmUp.rounds() + 1, 60_000_000_000L)),
                    "a stopped warm-up is not waited for (its rounds would never come)");
        }
    }
}
