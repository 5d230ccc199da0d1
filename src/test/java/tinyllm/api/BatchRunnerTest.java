package tinyllm.api;

import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import tinyllm.Fixtures;
import tinyllm.TinyLlmException;
import tinyllm.tokenizer.GPT2Tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A sequence in a batch gets what it gets alone, whatever else runs in the same steps: its rows share
 * every matrix product with the others but attend only over its own cache.
 */
class BatchRunnerTest {
    /**
     * Batched vs solo logits. The same float32 math, but a row's matrix products may take the GEMM path in
     * a batch and the dot-product path alone (or the other way round): another summation order, ~1e-6 on
     * these logits. 1e-4 fails on any row that read another sequence's cache or activations.
     */
    static final float BATCH_TOLERANCE = 1e-4f;

    /** Every position's logits of {@code tokens} fed one at a time through a session alone. */
    static float[][] soloLogits(Model model, int[] tokens) {
        float[][] logits = new float[tokens.length][];
        try (Session session = model.newSession()) {
            for (int t = 0; t < tokens.length; t++) {
                session.append(tokens[t]);
                logits[t] = session.logits().toArray(ValueLayout.JAVA_FLOAT);
            }
        }
        return logits;
    }

    /**
     * Sequences of different lengths join at different steps; each step every running sequence adds either a
     * chunk of its prompt (1 to 9 rows, as the row budget allows) or one decode row, and asks for logits on
     * most adds. Every logits row a step returns is checked against the sequence alone at that position.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"micro.bin", "micro-bf16.bin", "vocab.bin"})
    void batchedLogitsMatchEachSequenceAlone(String checkpoint) {
        int sequences = 9, maxRows = 24;
        Random random = new Random(7);
        try (Model model = Model.open(Fixtures.path(checkpoint), 2); BatchRunner runner = model.newBatchRunner(maxRows)) {
            int vocab = Math.min(500, model.config().vocabSize());
            int[][] tokens = new int[sequences][];
            int[] promptLength = new int[sequences], joinStep = new int[sequences];
            float[][][] solo = new float[sequences][][];
            Sequence[] seqs = new Sequence[sequences];
            for (int s = 0; s < sequences; s++) {
                tokens[s] = new int[10 + random.nextInt(model.config().maxSeqLen() - 10)];
                for (int t = 0; t < tokens[s].length; t++) tokens[s][t] = random.nextInt(vocab);
                promptLength[s] = 1 + random.nextInt(tokens[s].length - 1);
                joinStep[s] = random.nextInt(12);
                solo[s] = soloLogits(model, tokens[s]);
                seqs[s] = runner.newSequence(tokens[s].length);
            }
            int checked = 0, biggestStep = 0;
            boolean[] asked = new boolean[sequences];
            for (int step = 0; step < 400; step++) {
                for (int s = 0; s < sequences; s++) {
                    int at = seqs[s].position(), left = tokens[s].length - at;
                    asked[s] = false;
                    if (step < joinStep[s] || left == 0 || runner.queuedRows() == maxRows) continue;
                    int rows = at < promptLength[s]
                            ? Math.min(Math.min(promptLength[s] - at, 1 + random.nextInt(9)), maxRows - runner.queuedRows())
                            : 1;
                    asked[s] = random.nextInt(4) != 0;
                    runner.add(seqs[s], tokens[s], at, rows, asked[s]);
                }
                biggestStep = Math.max(biggestStep, runner.queuedRows());
                int[] before = new int[sequences];
                for (int s = 0; s < sequences; s++) before[s] = seqs[s].position();
                runner.step();
                for (int s = 0; s < sequences; s++) {
                    if (!asked[s]) continue;
                    float[] batched = runner.logits(seqs[s]).toArray(ValueLayout.JAVA_FLOAT);
                    int last = seqs[s].position() - 1;
                    float diff = Fixtures.maxAbsDiff(solo[s][last], batched);
                    assertTrue(diff < BATCH_TOLERANCE, "sequence " + s + " at position " + last + " (from " + before[s]
                            + ", step " + step + "): max |batched - alone| = " + diff);
                    checked++;
                }
            }
            for (int s = 0; s < sequences; s++) {
                assertEquals(tokens[s].length, seqs[s].position(), "sequence " + s + " ran to its end");
            }
            assertTrue(checked > 100 && biggestStep == maxRows, checked + " rows checked, biggest step " + biggestStep);
        }
    }

    /** 16 greedy generations stepping together: each one's tokens are those of its generation alone. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"micro.bin", "vocab.bin"})
    void sixteenGreedySequencesSteppingTogetherMatchTheirSoloRuns(String checkpoint) {
        int sequences = 16;
        GPT2Tokenizer tokenizer = new GPT2Tokenizer();
        Random random = new Random(3);
        try (Model model = Model.open(Fixtures.path(checkpoint), 2); BatchRunner runner = model.newBatchRunner(sequences * 8)) {
            int vocab = model.config().vocabSize(), maxT = model.config().maxSeqLen();
            int[][] prompts = new int[sequences][], alone = new int[sequences][], together = new int[sequences][];
            Sequence[] seqs = new Sequence[sequences];
            for (int s = 0; s < sequences; s++) {
                prompts[s] = new int[1 + random.nextInt(8)];
                for (int t = 0; t < prompts[s].length; t++) prompts[s][t] = random.nextInt(Math.min(vocab, 50000));
                alone[s] = new int[8 + random.nextInt(maxT / 2 - 8)];
                try (Session session = model.newSession()) {
                    new Generator(new Greedy(), tokenizer, false, List.of()).generate(session, prompts[s], alone[s], null);
                }
                together[s] = new int[alone[s].length];
                seqs[s] = runner.newSequence(prompts[s].length + alone[s].length);
            }
            int[] produced = new int[sequences];
            int[] next = new int[1];
            for (int s = 0; s < sequences; s++) runner.add(seqs[s], prompts[s], 0, prompts[s].length, true);
            for (boolean running = true; running; ) {
                runner.step();
                running = false;
                for (int s = 0; s < sequences; s++) {
                    if (produced[s] == together[s].length) continue;
                    int token = tinyllm.kernels.Argmax.forward(runner.logits(seqs[s]), vocab);
                    together[s][produced[s]++] = token;
                    if (produced[s] < together[s].length) {
                        next[0] = token;
                        runner.add(seqs[s], next, 0, 1, true);
                        running = true;
                    }
                }
            }
            for (int s = 0; s < sequences; s++) {
                assertArrayEquals(alone[s], together[s], "sequence " + s + " with prompt of " + prompts[s].length);
            }
        }
    }

    @Test
    void badAddsAreRefusedWithTheNumbers() {
        try (Model model = Model.open(Fixtures.path("micro.bin"), 1); BatchRunner runner = model.newBatchRunner(8)) {
            Sequence seq = runner.newSequence(10);
            int[] tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
            String overflow = assertThrows(TinyLlmException.class, () -> runner.add(seq, tokens, 0, 11, true)).getMessage();
            assertTrue(overflow.contains("11 new") && overflow.contains("10 tokens"), overflow);
            String budget = assertThrows(TinyLlmException.class, () -> runner.add(seq, tokens, 0, 9, true)).getMessage();
            assertTrue(budget.contains("at most 8 rows"), budget);
            String id = assertThrows(TinyLlmException.class, () -> runner.add(seq, new int[] {500}, 0, 1, true)).getMessage();
            assertTrue(id.contains("500"), id);
            assertEquals(0, runner.queuedRows(), "nothing refused was queued");

            runner.add(seq, tokens, 0, 3, false);
            assertThrows(IllegalStateException.class, () -> runner.add(seq, tokens, 3, 1, true), "twice in one step");
            runner.step();
            assertEquals(3, seq.position());
            assertThrows(IllegalStateException.class, () -> runner.logits(seq), "its add asked for no logits");
            assertThrows(TinyLlmException.class, () -> runner.newSequence(65), "beyond the model's context");
            seq.reset();
            assertEquals(0, seq.position());
        }
    }

    @Test
    void aSessionSizedToTheRequestHoldsThatManyTokens() {
        try (Model model = Model.open(Fixtures.path("micro.bin"), 1); Session session = model.newSession(5)) {
            assertEquals(5, session.contextLength());
            session.prefill(new int[] {1, 2, 3, 4, 5});
            String full = assertThrows(TinyLlmException.class, () -> session.append(6)).getMessage();
            assertTrue(full.contains("5 tokens held") && full.contains("this session's capacity of 5 tokens"), full);
            assertThrows(TinyLlmException.class, () -> model.newSession(0));
            assertThrows(TinyLlmException.class, () -> model.newSession(65));
        }
    }

}
