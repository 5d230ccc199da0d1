package tinyllm.bench;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import tinyllm.TinyLlmException;
import tinyllm.api.Model;
import tinyllm.api.Session;
import tinyllm.kernels.Argmax;

/**
 * How far a model's logits are from a reference model's, teacher-forced: both are fed the same tokens one at a
 * time, and after each the two rows of logits are compared. The measure of what quantization costs (q8 against
 * the fp32 file it was converted from), in two numbers: the relative RMS error of the logits over all positions,
 * sqrt(Σ (q − f)² / Σ f²), and the share of positions where both pick the same next token.
 *
 * @param positions       positions compared
 * @param relativeRms     sqrt(Σ (candidate − reference)² / Σ reference²) over every logit of every position
 * @param argmaxAgreement share of positions whose greedy choice is the same
 * @param maxAbsError     the largest |candidate − reference| of any logit
 */
public record Accuracy(int positions, double relativeRms, double argmaxAgreement, double maxAbsError) {

    /** Compares {@code candidate} with {@code reference} over {@code tokens}, fed one at a time from position 0. */
    public static Accuracy teacherForced(Model reference, Model candidate, int[] tokens) {
        if (!reference.config().withDType(tinyllm.model.DType.FP32).equals(candidate.config().withDType(tinyllm.model.DType.FP32))) {
            throw new TinyLlmException("cannot compare models of different shapes: " + reference.config().dimensions() + " against " + candidate.config().dimensions());
        }
        int V = reference.config().vocabSize();
        double squaredError = 0, squaredReference = 0, maxAbs = 0;
        int agree = 0;
        try (Session ref = reference.newSession(tokens.length); Session cand = candidate.newSession(tokens.length)) {
            for (int token : tokens) {
                ref.append(token);
                cand.append(token);
                MemorySegment f = ref.logits(), q = cand.logits();
                for (int i = 0; i < V; i++) {
                    double a = f.getAtIndex(ValueLayout.JAVA_FLOAT, i), b = q.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                    squaredError += (b - a) * (b - a);
                    squaredReference += a * a;
                    maxAbs = Math.max(maxAbs, Math.abs(b - a));
                }
                if (Argmax.forward(f, V) == Argmax.forward(q, V)) agree++;
            }
        }
        return new Accuracy(tokens.length, Math.sqrt(squaredError / squaredReference), agree / (double) tokens.length, maxAbs);
    }
}
