package tinyllm.api;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.SplittableRandom;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.kernels.Simd;
import tinyllm.kernels.Softmax;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;

/**
 * Draws the next token at random from the softmax of the logits, reshaped by a temperature and
 * optionally narrowed by top-k and top-p (nucleus) filters.
 *
 * <p>In order: keep the k largest logits (top-k); softmax of the kept logits divided by the temperature; keep
 * the smallest set of most probable tokens whose probabilities sum to at least topP (top-p; over the top-k
 * distribution when both are on); draw one of the kept tokens in proportion to its probability. With top-k 1
 * this is greedy: the largest logit, the lowest id on a tie.
 *
 * <p>Every buffer is sized to the vocabulary in the constructor, so {@link #choose} allocates nothing on the
 * heap. Draws come from a seeded {@link SplittableRandom}: the same seed and the same logits give the same
 * tokens. One sampler serves one generation at a time; it is not thread-safe.
 */
public final class Sampler implements TokenChooser {
    private final int vocabSize;
    private final float temperature;
    private final float inverseTemperature;
    private final int topK;
    private final float topP;
    private SplittableRandom random;
    private String description;

    // Without top-k every token is a candidate: its logit, overwritten by its weight exp((logit - max) / T),
    // and its id (allTokens[i] == i, filled once).
    private final float[] allWeights;
    private final MemorySegment allWeightsSegment; // the softmax kernel's output, copied into allWeights
    private final int[] allTokens;
    // With top-k, the k best so far as a min-heap whose root is the next to leave: logits, then weights.
    private final float[] topWeights;
    private final int[] topTokens;
    // Top-p work: one key per candidate that may be in the nucleus, (weight bits << 32 | ~token). Weights are
    // positive floats, whose bits order like the floats, and ~token makes the lower id the larger key on a
    // tie, so comparing two keys compares the candidates by probability, then by id.
    private final long[] nucleus;
    private final double[] total = new double[1];

    /**
     * @param vocabSize   V, the most logits {@link #choose} will be given
     * @param temperature divides the logits before the softmax: below 1 sharper, above 1 flatter; positive and
     *                    finite (for temperature 0 use {@link Greedy})
     * @param topK        keep only the k most likely tokens; 0 = off, else at most {@code vocabSize}
     * @param topP        keep only the most likely tokens that together hold this much probability; in (0, 1],
     *                    1 = off
     * @param seed        starts the random sequence; the same seed repeats the same draws
     * @throws TinyLlmException when a setting is out of range
     */
    public Sampler(int vocabSize, float temperature, int topK, float topP, long seed) {
        if (vocabSize < 1 || vocabSize > Checkpoint.MAX_VOCAB) { // its arrays are sized by it
            throw new TinyLlmException("the vocabulary must hold 1 to " + Checkpoint.MAX_VOCAB + " tokens (a checkpoint's most), got " + vocabSize);
        }
        if (!(temperature > 0) || Float.isInfinite(temperature)) {
            throw new TinyLlmException("temperature must be positive and finite, got " + temperature
                    + " (greedy decoding is a separate choice, not temperature 0)");
        }
        if (Float.isInfinite(1f / temperature)) {
            throw new TinyLlmException("temperature " + temperature + " is too small: 1/temperature overflows a float");
        }
        if (topK < 0 || topK > vocabSize) {
            throw new TinyLlmException("top-k must be 0 (off) or between 1 and the vocabulary size " + vocabSize
                    + ", got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new TinyLlmException("top-p must be above 0 and at most 1 (1 = off), got " + topP);
        }
        this.vocabSize = vocabSize;
        this.temperature = temperature;
        this.inverseTemperature = 1f / temperature;
        this.topK = topK;
        this.topP = topP;
        this.allWeights = new float[vocabSize];
        // Native, as every segment the kernels see: a heap segment here made Softmax's call sites see two segment
        // classes; recompiled for both, C2 could leave its vector arithmetic un-intrinsified, boxing every vector
        // (~300 KB a call, in a JVM that sampled before anything else ran).
        this.allWeightsSegment = Arena.ofAuto().allocate((long) vocabSize * Float.BYTES, 64);
        this.allTokens = new int[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            allTokens[i] = i;
        }
        this.topWeights = new float[topK];
        this.topTokens = new int[topK];
        this.nucleus = topP < 1 ? new long[vocabSize] : new long[0];
        reseed(seed);
    }

    /** Restarts the random sequence: the draws that follow are those of a new sampler with this seed. */
    public void reseed(long seed) {
        random = new SplittableRandom(seed);
        description = "sampling (temperature " + temperature
                + (topK > 0 ? ", top-k " + topK : "")
                + (topP < 1 ? ", top-p " + topP : "")
                + ", seed " + seed + ")";
    }

    /**
     * Draws one token; allocates nothing.
     *
     * @param logits    at least {@code vocabSize} floats; not modified
     * @param vocabSize how many logits to draw from, at most the vocabulary size given to the constructor
     * @throws TinyLlmException when {@code vocabSize} is below 1 or beyond the sampler's vocabulary, or when
     *                          the logits it samples from hold NaN or infinity (a broken model)
     */
    @Override
    public int choose(MemorySegment logits, int vocabSize) {
        if (vocabSize < 1 || vocabSize > this.vocabSize) {
            throw new TinyLlmException("cannot sample from " + vocabSize + " logits: this sampler was built for a "
                    + "vocabulary of " + this.vocabSize + " tokens");
        }
        Simd.requireFloats(logits, vocabSize); // the vector loads below do not check each one
        if (topK > 0 && topK < vocabSize) {
            selectTopK(logits, vocabSize);
            return draw(topWeights, topTokens, topK, softmaxTopK());
        }
        return draw(allWeights, allTokens, vocabSize, softmaxAll(logits, vocabSize));
    }

    /** E.g. "sampling (temperature 0.8, top-k 40, top-p 0.95, seed 42)"; filters that are off are left out. */
    @Override
    public String describe() {
        return description;
    }

    /**
     * Leaves the topK largest of logits[0..V) in topWeights/topTokens. A min-heap of k entries: a logit enters
     * only if it beats the root. Once the heap holds good logits almost none do, so a whole vector of logits
     * is usually passed over with one comparison, and only a vector that holds a better logit is looked at
     * one by one.
     */
    private void selectTopK(MemorySegment logits, int V) {
        for (int i = 0; i < topK; i++) {
            topWeights[i] = logits.get(FLOAT, (long) i * Float.BYTES);
            topTokens[i] = i;
        }
        for (int i = topK / 2 - 1; i >= 0; i--) {
            siftDownTopK(i);
        }
        int i = topK;
        int upper = topK + F.loopBound(V - topK);
        for (; i < upper; i += F.length()) {
            FloatVector chunk = FloatVector.fromMemorySegment(F, logits, (long) i * Float.BYTES, LE);
            if (chunk.compare(VectorOperators.GT, topWeights[0]).anyTrue()) {
                for (int j = i; j < i + F.length(); j++) {
                    offerTopK(j, logits.get(FLOAT, (long) j * Float.BYTES));
                }
            }
        }
        for (; i < V; i++) {
            offerTopK(i, logits.get(FLOAT, (long) i * Float.BYTES));
        }
    }

    /** Strictly greater: on a tie the heap keeps the lower id, which came first. */
    private void offerTopK(int token, float logit) {
        if (logit > topWeights[0]) {
            topWeights[0] = logit;
            topTokens[0] = token;
            siftDownTopK(0);
        }
    }

    /** Heap order: the root leaves first, so it is the smallest logit and, of equal logits, the highest id. */
    private boolean leavesBefore(int a, int b) {
        return topWeights[a] < topWeights[b] || (topWeights[a] == topWeights[b] && topTokens[a] > topTokens[b]);
    }

    private void siftDownTopK(int i) {
        while (true) {
            int child = 2 * i + 1;
            if (child >= topK) {
                return;
            }
            if (child + 1 < topK && leavesBefore(child + 1, child)) {
                child++;
            }
            if (!leavesBefore(child, i)) {
                return;
            }
            float weight = topWeights[i];
            topWeights[i] = topWeights[child];
            topWeights[child] = weight;
            int token = topTokens[i];
            topTokens[i] = topTokens[child];
            topTokens[child] = token;
            i = child;
        }
    }

    /*
     * The softmax is left unnormalised: weight = exp((logit - max) / temperature), so the most likely token
     * weighs about 1 and no weight overflows, and the draws scale their random number by the sum of the
     * weights instead of dividing every weight by it.
     */

    /** topWeights[0..k): the kept logits become weights; returns their sum. */
    private double softmaxTopK() {
        return checkedTotal(Softmax.inPlace(topWeights, topK, inverseTemperature));
    }

    /** allWeights[0..V) = the weights of logits[0..V); returns their sum. */
    private double softmaxAll(MemorySegment logits, int V) {
        Softmax.weights(logits, V, inverseTemperature, allWeightsSegment, total);
        MemorySegment.copy(allWeightsSegment, ValueLayout.JAVA_FLOAT, 0, allWeights, 0, V); // the draw reads an array
        return checkedTotal(total[0]);
    }

    /** A NaN logit, an infinite one (inf - inf) or logits all -inf make the sum NaN; otherwise it is about 1 to V. */
    private static double checkedTotal(double total) {
        if (Double.isNaN(total)) {
            throw new TinyLlmException("cannot sample: the model's logits hold NaN or infinite values");
        }
        return total;
    }

    /** One of tokens[0..n), drawn with probability weights[i] / total, after the top-p filter if on. */
    private int draw(float[] weights, int[] tokens, int n, double total) {
        if (topP < 1) {
            return drawFromNucleus(weights, tokens, n, total);
        }
        double target = random.nextDouble() * total;
        for (int attempt = 0; attempt < 2; attempt++) {
            double cumulative = 0;
            for (int i = 0; i < n; i++) {
                cumulative += weights[i];
                if (target < cumulative) {
                    return tokens[i];
                }
            }
            // The total was added up in vector lanes, in another order; when rounding leaves this sum short of
            // the target, draw again against this sum rather than favour the last token.
            target = random.nextDouble() * cumulative;
        }
        for (int i = n - 1; i > 0; i--) {
            if (weights[i] > 0) {
                return tokens[i];
            }
        }
        return tokens[0];
    }

    /**
     * One token of the nucleus of tokens[0..n): the most probable tokens, taken in order of probability
     * (lower id first on a tie) until their probabilities sum to at least topP, drawn in proportion to their
     * probabilities renormalised over the nucleus.
     */
    private int drawFromNucleus(float[] weights, int[] tokens, int n, double total) {
        Objects.checkFromIndexSize(0, n, weights.length); // the vector loads below do not check each one
        // Only candidates with probability at least (1 - topP) / (n - 1) can be in the nucleus, so only these
        // are ranked (hundreds or thousands of GPT-2's 50 257, not all). Why: the tokens below that cutoff
        // are at most n - 1 (the cap below keeps the most probable token in) and hold less than
        // (n - 1) * (1 - topP) / (n - 1) = 1 - topP together, so the tokens at or above it hold more than topP,
        // and being the most probable they come first in the nucleus order: the nucleus is complete before the
        // first token under the cutoff. A lower cutoff is as correct, only slower, so the cutoff is rounded
        // down to a float, and capped at 0.5 so that the most probable token (weight about 1) always stays in,
        // even when a near-uniform distribution with a tiny topP would put every token under the cutoff.
        // Weights are unnormalised: probability p is weight p * total.
        float cutoff = n == 1 ? 0 : Math.nextDown((float) Math.min((1.0 - topP) / (n - 1) * total, 0.5));
        int survivors = 0;
        int i = 0;
        int upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            if (FloatVector.fromArray(F, weights, i).compare(VectorOperators.GE, cutoff).anyTrue()) {
                for (int j = i; j < i + F.length(); j++) {
                    survivors = keepIfAbove(cutoff, weights, tokens, j, survivors);
                }
            }
        }
        for (; i < n; i++) {
            survivors = keepIfAbove(cutoff, weights, tokens, i, survivors);
        }
        // The nucleus is the largest keys up to the one that brings their sum to topP. Found by quickselect
        // rather than by sorting: partition the undecided keys nucleus[in..out) around a pivot, keep the
        // larger side if it alone completes the nucleus, else take it whole with the pivot and go on below.
        // Expected O(survivors), whatever the size of the nucleus. Keys are distinct (they hold the id), so
        // the order is total and the nucleus well defined; nucleus[0..in) holds it at the end.
        double needed = topP * total;
        double kept = 0;
        int in = 0;
        int out = survivors;
        while (in < out && kept < needed) {
            // Keys arrive in id order (or top-k heap order), unrelated to their weights: the middle one serves as
            // a random pivot, and keeps the choice deterministic.
            swap(in + (out - in) / 2, out - 1);
            long pivot = nucleus[out - 1];
            // Branch-free Lomuto partition: which side a key falls on is a coin toss the CPU cannot predict.
            int larger = in;
            for (int k = in; k < out - 1; k++) {
                long key = nucleus[k];
                nucleus[k] = nucleus[larger];
                nucleus[larger] = key;
                larger += key > pivot ? 1 : 0;
            }
            swap(larger, out - 1);
            double largerMass = 0;
            for (int k = in; k < larger; k++) {
                largerMass += weightOf(nucleus[k]);
            }
            if (kept + largerMass >= needed) {
                out = larger;
            } else {
                kept += largerMass + weightOf(pivot);
                in = larger + 1;
            }
        }
        // Should rounding leave kept a hair short of topP, the loop still ends, when in meets out: the boundary
        // token is then in or out by rounding. The draw adds the nucleus up again in the order it walks it, so
        // that the walk always reaches its target.
        kept = 0;
        for (int k = 0; k < in; k++) {
            kept += weightOf(nucleus[k]);
        }
        double target = random.nextDouble() * kept;
        double cumulative = 0;
        for (int k = 0; k < in - 1; k++) {
            cumulative += weightOf(nucleus[k]);
            if (target < cumulative) {
                return tokenOf(nucleus[k]);
            }
        }
        return tokenOf(nucleus[in - 1]);
    }

    private void swap(int a, int b) {
        long key = nucleus[a];
        nucleus[a] = nucleus[b];
        nucleus[b] = key;
    }

    /** Adds candidate i to the nucleus keys if its weight reaches the cutoff; returns the new key count. */
    private int keepIfAbove(float cutoff, float[] weights, int[] tokens, int i, int survivors) {
        // Branch-free: written always, kept by moving past it (survivors <= i, so the write is in bounds).
        nucleus[survivors] = (long) Float.floatToRawIntBits(weights[i]) << 32 | (~tokens[i] & 0xFFFFFFFFL);
        return survivors + (weights[i] >= cutoff ? 1 : 0);
    }

    private static float weightOf(long key) {
        return Float.intBitsToFloat((int) (key >>> 32));
    }

    private static int tokenOf(long key) {
        return ~(int) key;
    }
}
