package tinyllm.api;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.List;

import org.junit.jupiter.api.Test;

import tinyllm.Fixtures;
import tinyllm.TinyLlmException;
import tinyllm.tokenizer.GPT2Tokenizer;

/**
 * The embedding API misused, as a hostile test pass did: each misuse a clear exception, never an answer that
 * describes something else (logits of a step that failed or never ran, tokens a chooser made up).
 */
class ApiMisuseTest {
    private static final int[] PROMPT = {10, 200, 257, 499};

    @Test
    void aSessionHasNoLogitsBeforeItsFirstTokenNorAfterAReset() {
        try (Model model = Model.open(Fixtures.path("micro.bin"), 2); Session session = model.newSession()) {
            assertThrows(IllegalStateException.class, session::logits);
            assertThrows(IllegalStateException.class, session::argmax);
            session.prefill(PROMPT);
            assertDoesNotThrow(session::argmax);
            session.reset();
            assertThrows(IllegalStateException.class, session::argmax);
        }
    }

    /** A step that fails (here: the model closed under it) leaves no logits behind, in a runner or a session. */
    @Test
    void aFailedStepLeavesNoLogits() {
        Model model = Model.open(Fixtures.path("micro.bin"), 2);
        BatchRunner runner = model.newBatchRunner(4);
        Session session = model.newSession();
        Sequence sequence = runner.newSequence(64);
        runner.add(sequence, PROMPT, 0, 4, true);
        runner.step();
        session.prefill(PROMPT);
        assertDoesNotThrow(() -> runner.logits(sequence));
        model.close();
        runner.add(sequence, new int[] {9}, 0, 1, true);
        assertThrows(RuntimeException.class, runner::step);
        assertThrows(IllegalStateException.class, () -> runner.logits(sequence), "the last step's logits are not this one's");
        assertThrows(RuntimeException.class, () -> session.append(9));
        assertThrows(IllegalStateException.class, session::argmax);
    }

    @Test
    void aClosedModelSaysSoAndClosesOnce() {
        Model model = Model.open(Fixtures.path("micro.bin"), 2);
        model.close();
        assertDoesNotThrow(model::close);
        var e = assertThrows(IllegalStateException.class, model::newSession);
        assertTrue(e.getMessage().contains("model is closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> model.newBatchRunner(4));
    }

    /** The context check is the session's, which may hold less than the model: refused before anything is fed. */
    @Test
    void generateChecksTheSessionsOwnContextFirst() {
        try (Model model = Model.open(Fixtures.path("vocab.bin"), 2); Session session = model.newSession(16)) {
            Generator generator = new Generator(new Greedy(), new GPT2Tokenizer(), false, List.of());
            var e = assertThrows(TinyLlmException.class, () -> generator.generate(session, new int[10], new int[20], null));
            assertTrue(e.getMessage().contains("this session's context of 16 tokens"), e.getMessage());
            assertEquals(0, session.position(), "nothing fed");
        }
    }

    /** A chooser of the caller's own that returns an id outside the vocabulary: an error, not output. */
    @Test
    void aTokenOutsideTheVocabularyFromAChooserIsRefused() {
        TokenChooser broken = new TokenChooser() {
            @Override
            public int choose(MemorySegment logits, int vocabSize) {
                return 99_999;
            }

            @Override
            public String describe() {
                return "broken";
            }
        };
        try (Model model = Model.open(Fixtures.path("micro.bin"), 2); Session session = model.newSession()) {
            Generator generator = new Generator(broken, new GPT2Tokenizer(), false, List.of());
            int[] out = new int[3];
            var e = assertThrows(TinyLlmException.class, () -> generator.generate(session, PROMPT, out, null));
            assertTrue(e.getMessage().contains("99999"), e.getMessage());
            assertEquals(0, out[0], "nothing written");
        }
    }

    @Test
    void choosersRefuseImpossibleVocabularies() {
        MemorySegment logits = MemorySegment.ofArray(new float[8]);
        assertThrows(IllegalArgumentException.class, () -> new Greedy().choose(logits, 0));
        assertThrows(IllegalArgumentException.class, () -> new Greedy().choose(logits, 9), "more tokens than logits");
        assertThrows(TinyLlmException.class, () -> new Sampler(Integer.MAX_VALUE, 1f, 0, 1f, 1), "not an OutOfMemoryError");
        assertThrows(NullPointerException.class, () -> Model.warmUp(null));
    }

    @Test
    void aStopStringWithALoneSurrogateIsRefused() {
        assertThrows(TinyLlmException.class, () -> new StopStrings(List.of("\uD800")));
        assertDoesNotThrow(() -> new StopStrings(List.of("\uD83D\uDE00")));
    }
}
