package tinyllm.api;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import tinyllm.Allocations;
import tinyllm.TinyLlmException;
import tinyllm.tokenizer.GPT2Tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static tinyllm.kernels.Simd.FLOAT;

/** Sampling: reproducible from a seed, never outside its filters, in proportion to the softmax, allocation-free. */
class SamplerTest {
    static final int V = GPT2Tokenizer.VOCAB_SIZE;
    static final int DRAWS = 2000;

    final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        arena.close();
    }

    /** Gaussian logits with a spread of 3: a broad distribution, whose 0.9 nucleus holds a few thousand tokens. */
    MemorySegment randomLogits(int vocabSize, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            values[i] = (float) (3 * random.nextGaussian());
        }
        return segment(values);
    }

    MemorySegment segment(float... values) {
        MemorySegment logits = arena.allocate((long) values.length * Float.BYTES, 64);
        for (int i = 0; i < values.length; i++) {
            logits.set(FLOAT, (long) i * Float.BYTES, values[i]);
        }
        return logits;
    }

    static float[] floats(MemorySegment logits, int vocabSize) {
        float[] values = new float[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            values[i] = logits.get(FLOAT, (long) i * Float.BYTES);
        }
        return values;
    }

    static int[] draws(Sampler sampler, MemorySegment logits, int vocabSize, int count) {
        int[] tokens = new int[count];
        for (int i = 0; i < count; i++) {
            tokens[i] = sampler.choose(logits, vocabSize);
        }
        return tokens;
    }

    /** Token ids of logits[0..n), most likely first, lower id first on a tie. */
    static Integer[] byLogit(float[] logits) {
        Integer[] order = IntStream.range(0, logits.length).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -logits[i]).thenComparingInt(i -> i));
        return order;
    }

    /** softmax(logits / temperature) in double. */
    static double[] softmax(float[] logits, double temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (float logit : logits) max = Math.max(max, logit);
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            p[i] = Math.exp((logits[i] - max) / temperature);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }

    static final double NUCLEUS_SLACK = 1e-5;

    /**
     * The nucleus computed the plain way (sort everything, add up). Tokens whose preceding mass is within
     * {@link #NUCLEUS_SLACK} of topP are counted in: the sampler adds float weights in a different order and
     * may round the boundary token either way.
     */
    static boolean[] nucleus(float[] logits, double temperature, double topP) {
        double[] p = softmax(logits, temperature);
        boolean[] in = new boolean[logits.length];
        double before = 0;
        for (int token : byLogit(logits)) {
            if (before >= topP + NUCLEUS_SLACK) break;
            in[token] = true;
            before += p[token];
        }
        return in;
    }

    @Test
    void sameSeedGivesTheSameTokens() {
        MemorySegment logits = randomLogits(V, 1);
        int[] first = draws(new Sampler(V, 0.8f, 40, 0.95f, 42), logits, V, 200);
        int[] second = draws(new Sampler(V, 0.8f, 40, 0.95f, 42), logits, V, 200);
        assertArrayEquals(first, second);
        assertTrue(Arrays.stream(first).distinct().count() > 5, "200 draws from 40 tokens should not be one token");
    }

    @Test
    void reseedRestartsTheSequence() {
        MemorySegment logits = randomLogits(V, 1);
        Sampler sampler = new Sampler(V, 1f, 0, 0.9f, 7);
        int[] first = draws(sampler, logits, V, 200);
        sampler.reseed(7);
        assertArrayEquals(first, draws(sampler, logits, V, 200));
    }

    @Test
    void differentSeedsGiveDifferentTokens() {
        MemorySegment logits = randomLogits(V, 1);
        int[] first = draws(new Sampler(V, 1f, 0, 1f, 1), logits, V, 200);
        int[] second = draws(new Sampler(V, 1f, 0, 1f, 2), logits, V, 200);
        assertFalse(Arrays.equals(first, second));
    }

    @Test
    void topK1IsTheArgmaxLowestIdOnATie() {
        for (long seed = 0; seed < 20; seed++) {
            MemorySegment logits = randomLogits(V, seed);
            Sampler sampler = new Sampler(V, 1.5f, 1, 1f, seed);
            for (int draw = 0; draw < 10; draw++) {
                assertEquals(new Greedy().choose(logits, V), sampler.choose(logits, V));
            }
        }
        MemorySegment tied = segment(1f, 5f, 2f, 5f, 5f, -3f);
        assertEquals(1, new Sampler(6, 1f, 1, 1f, 3).choose(tied, 6));
        assertEquals(1, new Sampler(6, 1f, 1, 0.5f, 3).choose(tied, 6));
        assertEquals(1, new Sampler(6, 1f, 0, 0.01f, 3).choose(tied, 6), "top-p alone narrowed to one token");
    }

    @Test
    void topKNeverDrawsOutsideTheKLargest() {
        MemorySegment logits = randomLogits(V, 2);
        Integer[] order = byLogit(floats(logits, V));
        int k = 40;
        boolean[] allowed = new boolean[V];
        for (int i = 0; i < k; i++) allowed[order[i]] = true;
        // Temperature 5 flattens the top 40 so that most of them are drawn.
        Sampler sampler = new Sampler(V, 5f, k, 1f, 9);
        boolean[] seen = new boolean[V];
        for (int token : draws(sampler, logits, V, DRAWS)) {
            assertTrue(allowed[token], "token " + token + " is not among the " + k + " largest logits");
            seen[token] = true;
        }
        int distinct = 0;
        for (boolean s : seen) distinct += s ? 1 : 0;
        assertTrue(distinct > k / 2, "only " + distinct + " of the top " + k + " tokens drawn in " + DRAWS);
    }

    @Test
    void topPNeverDrawsOutsideTheNucleus() {
        MemorySegment logits = randomLogits(V, 3);
        boolean[] in = nucleus(floats(logits, V), 1.0, 0.9);
        Sampler sampler = new Sampler(V, 1f, 0, 0.9f, 11);
        for (int token : draws(sampler, logits, V, DRAWS)) {
            assertTrue(in[token], "token " + token + " is outside the 0.9 nucleus");
        }
    }

    @Test
    void topPOfANearlyUniformDistributionKeepsTheRightTokens() {
        // Probabilities all near 1 / V: the cutoff that spares sorting every token must not cut the nucleus.
        MemorySegment logits = randomLogits(V, 4);
        boolean[] in = nucleus(floats(logits, V), 100.0, 0.5);
        int size = 0;
        for (boolean b : in) size += b ? 1 : 0;
        assertTrue(size > V / 4, "nucleus of " + size + " tokens: the distribution should be nearly flat");
        // Fewer draws: a nucleus of half the vocabulary is the sampler's slowest case (it sorts 25 000 tokens).
        Sampler sampler = new Sampler(V, 100f, 0, 0.5f, 12);
        for (int token : draws(sampler, logits, V, 200)) {
            assertTrue(in[token], "token " + token + " is outside the 0.5 nucleus");
        }
    }

    @Test
    void topPKeepsTheMostLikelyTokenEvenUnderTheCutoff() {
        // 4 tokens, top-p 0.1: the cutoff (1 - 0.1) / 3 = 0.3 is above every probability (about 0.25).
        assertArrayEquals(new int[] {3, 3, 3, 3, 3},
                draws(new Sampler(4, 1f, 0, 0.1f, 14), segment(0f, 0.01f, 0.02f, 0.03f), 4, 5));
        assertArrayEquals(new int[] {0, 0, 0, 0, 0},
                draws(new Sampler(4, 1f, 0, 0.1f, 14), segment(1f, 1f, 1f, 1f), 4, 5),
                "a tie in the nucleus order goes to the lower id");
    }

    @Test
    void topPAfterTopKIsTheNucleusOfTheTopK() {
        MemorySegment logits = randomLogits(V, 5);
        float[] all = floats(logits, V);
        Integer[] order = byLogit(all);
        int k = 40;
        float[] top = new float[k];
        for (int i = 0; i < k; i++) top[i] = all[order[i]];
        boolean[] inTop = nucleus(top, 0.8, 0.95);
        int[] rank = new int[V];
        for (int i = 0; i < V; i++) rank[order[i]] = i;
        Sampler sampler = new Sampler(V, 0.8f, k, 0.95f, 13);
        for (int token : draws(sampler, logits, V, DRAWS)) {
            assertTrue(rank[token] < k && inTop[rank[token]],
                    "token " + token + " (rank " + rank[token] + ") is outside the nucleus");
        }
    }

    /**
     * Frequencies over many draws against the softmax. Tolerance: 5 standard deviations of a frequency over
     * FREQUENCY_DRAWS draws, sqrt(p (1 - p) / n) <= 0.0036, so 0.018; the seed is fixed, so this cannot flake.
     */
    static final int FREQUENCY_DRAWS = 20_000;
    static final double FREQUENCY_TOLERANCE = 0.018;

    static void assertFrequencies(double[] expected, Sampler sampler, MemorySegment logits) {
        int[] counts = new int[expected.length];
        for (int token : draws(sampler, logits, expected.length, FREQUENCY_DRAWS)) counts[token]++;
        for (int token = 0; token < expected.length; token++) {
            double frequency = (double) counts[token] / FREQUENCY_DRAWS;
            assertEquals(expected[token], frequency, FREQUENCY_TOLERANCE, "token " + token);
        }
    }

    static final float[] EIGHT_LOGITS = {1.5f, -0.5f, 0.2f, 2.0f, 0.9f, -2.0f, 1.1f, 0.0f};

    @Test
    void frequenciesFollowTheSoftmax() {
        assertFrequencies(softmax(EIGHT_LOGITS, 1.0), new Sampler(8, 1f, 0, 1f, 21), segment(EIGHT_LOGITS));
    }

    @Test
    void temperatureSharpensTheSoftmax() {
        assertFrequencies(softmax(EIGHT_LOGITS, 0.5), new Sampler(8, 0.5f, 0, 1f, 22), segment(EIGHT_LOGITS));
    }

    @Test
    void topKRenormalisesOverTheKeptTokens() {
        // The 3 largest are tokens 3, 0, 6: their softmax among themselves, everyone else 0.
        double[] expected = new double[8];
        double[] top = softmax(new float[] {EIGHT_LOGITS[3], EIGHT_LOGITS[0], EIGHT_LOGITS[6]}, 1.0);
        expected[3] = top[0];
        expected[0] = top[1];
        expected[6] = top[2];
        assertFrequencies(expected, new Sampler(8, 1f, 3, 1f, 23), segment(EIGHT_LOGITS));
    }

    @Test
    void topPRenormalisesOverTheNucleus() {
        // softmax: token 3 0.312, 0 0.189, 6 0.128, 4 0.105, ... The 0.6 nucleus is {3, 0, 6} (0.629).
        double[] p = softmax(EIGHT_LOGITS, 1.0);
        double kept = p[3] + p[0] + p[6];
        assertTrue(kept >= 0.6 && p[3] + p[0] < 0.6, "fixture: the 0.6 nucleus should be tokens 3, 0, 6");
        double[] expected = new double[8];
        for (int token : new int[] {3, 0, 6}) expected[token] = p[token] / kept;
        assertFrequencies(expected, new Sampler(8, 1f, 0, 0.6f, 24), segment(EIGHT_LOGITS));
    }

    @Test
    void describesItsSettingsLeavingOutFiltersThatAreOff() {
        assertEquals("sampling (temperature 0.8, top-k 40, top-p 0.95, seed 42)",
                new Sampler(V, 0.8f, 40, 0.95f, 42).describe());
        assertEquals("sampling (temperature 1.0, top-p 0.9, seed 1)", new Sampler(V, 1f, 0, 0.9f, 1).describe());
        Sampler sampler = new Sampler(V, 0.7f, 0, 1f, 1);
        sampler.reseed(5);
        assertEquals("sampling (temperature 0.7, seed 5)", sampler.describe());
    }

    static void assertRefused(String expectedPart, Runnable construct) {
        TinyLlmException e = assertThrows(TinyLlmException.class, construct::run);
        assertTrue(e.getMessage().contains(expectedPart), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one-line message: " + e.getMessage());
    }

    @Test
    void refusesATemperatureThatIsNotPositiveAndFinite() {
        for (float temperature : new float[] {0f, -0.5f, Float.NaN, Float.POSITIVE_INFINITY}) {
            assertRefused("temperature must be positive and finite, got " + temperature,
                    () -> new Sampler(V, temperature, 0, 1f, 1));
        }
    }

    @Test
    void refusesTopKBelowZeroOrBeyondTheVocabulary() {
        assertRefused("top-k must be 0 (off) or between 1 and the vocabulary size 50257, got -1",
                () -> new Sampler(V, 1f, -1, 1f, 1));
        assertRefused("got 50258", () -> new Sampler(V, 1f, V + 1, 1f, 1));
    }

    @Test
    void refusesTopPOutsideZeroToOne() {
        for (float topP : new float[] {0f, -0.1f, 1.01f, Float.NaN}) {
            assertRefused("top-p must be above 0 and at most 1 (1 = off), got " + topP,
                    () -> new Sampler(V, 1f, 0, topP, 1));
        }
    }

    @Test
    void refusesMoreLogitsThanItsVocabulary() {
        MemorySegment logits = randomLogits(16, 1);
        assertRefused("cannot sample from 16 logits: this sampler was built for a vocabulary of 8 tokens",
                () -> new Sampler(8, 1f, 0, 1f, 1).choose(logits, 16));
    }

    @Test
    void refusesLogitsThatAreNotNumbers() {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
            MemorySegment logits = segment(0.5f, bad, -1f, 2f);
            assertRefused("cannot sample: the model's logits hold NaN or infinite values",
                    () -> new Sampler(4, 1f, 0, 1f, 1).choose(logits, 4));
            assertRefused("NaN or infinite", () -> new Sampler(4, 1f, 2, 0.9f, 1).choose(logits, 4));
        }
        MemorySegment allMinusInfinity = segment(Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY);
        assertRefused("NaN or infinite", () -> new Sampler(2, 1f, 0, 0.5f, 1).choose(allMinusInfinity, 2));
    }

    @Test
    void aMinusInfinityLogitIsNeverDrawn() {
        MemorySegment logits = segment(0f, Float.NEGATIVE_INFINITY, 0f, Float.NEGATIVE_INFINITY);
        for (int token : draws(new Sampler(4, 1f, 0, 1f, 1), logits, 4, 1000)) {
            assertTrue(token == 0 || token == 2, "token " + token);
        }
    }

    @Test
    void aSmallerVocabularyThanBuiltForIsFine() {
        MemorySegment logits = randomLogits(16, 1);
        Sampler sampler = new Sampler(32, 1f, 20, 0.9f, 1);
        for (int token : draws(sampler, logits, 16, 500)) {
            assertTrue(token >= 0 && token < 16, "token " + token);
        }
    }

    // ---- allocation ----

    static final int MEASURED_CALLS = 500;
    static void assertChooseAllocatesNothing(Sampler sampler, MemorySegment logits) {
        int[] sink = new int[1];
        Runnable window = () -> {
            for (int call = 0; call < MEASURED_CALLS; call++) {
                sink[0] += sampler.choose(logits, V);
            }
        };
        assertEquals(0, Allocations.onceWarm(sampler.describe(), window),
                "bytes allocated by " + MEASURED_CALLS + " calls of " + sampler.describe());
    }

    @Test
    void chooseWithTemperatureTopKAndTopPAllocatesNothing() {
        assertChooseAllocatesNothing(new Sampler(V, 0.8f, 40, 0.95f, 42), randomLogits(V, 6));
    }

    @Test
    void chooseWithTopPAloneAllocatesNothing() {
        assertChooseAllocatesNothing(new Sampler(V, 1f, 0, 0.9f, 42), randomLogits(V, 7));
    }

    @Test
    void chooseWithTemperatureAloneAllocatesNothing() {
        assertChooseAllocatesNothing(new Sampler(V, 0.8f, 0, 1f, 42), randomLogits(V, 8));
    }
}
