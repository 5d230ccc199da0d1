package tinyllm.api;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.Fixtures;
import tinyllm.bench.Accuracy;
import tinyllm.model.DType;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What q8 costs, on the micro fixture (C = 48, so blocks of 16) converted from fp32, teacher-forced over the
 * 64 tokens of its full context; and that the q8 model computes exactly the model its int8 values describe.
 */
class Q8AccuracyTest {
    @TempDir
    Path dir;

    Path convert(Path source, String name, DType dtype) {
        return Fixtures.converted(source, dir.resolve(name), dtype);
    }

    /**
     * The bounds. Rounding to nearest in steps of absmax/127 leaves each weight an error of at most half a step,
     * uniform: an RMS of step/sqrt(12), about 0.2 % of a block's largest weight. Summed along a row these errors
     * add as noise, and a dozen products deep the logits carry them: measured 0.8 % relative RMS on this fixture
     * (63 of 64 positions choosing the same token) and 1.8 % on the 124M shape over 1000 tokens (95 %). 5 % is
     * six times this fixture's figure, so only a real fault trips it (a scale dropped, doubled or read from
     * another block shifts logits by tens of %); 85 % agreement leaves room for the nearly flat logits of random
     * weights, where a small change swaps the top two.
     */
    static final double RMS_BOUND = 0.05, AGREEMENT_BOUND = 0.85;

    @Test
    void q8LogitsStayCloseToTheFp32ModelsTheyCameFrom() {
        Path q8 = convert(Fixtures.path("micro.bin"), "micro-q8.bin", DType.Q8);
        try (Model fp32 = Model.open(Fixtures.path("micro.bin"), 2); Model quantized = Model.open(q8, 2)) {
            Accuracy a = Accuracy.teacherForced(fp32, quantized, Fixtures.full64Tokens());
            System.out.printf("micro q8 against fp32: relative RMS %.4f, argmax agreement %.3f, max abs %.4f%n",
                    a.relativeRms(), a.argmaxAgreement(), a.maxAbsError());
            assertEquals(64, a.positions());
            assertTrue(a.relativeRms() < RMS_BOUND, "relative RMS error " + a.relativeRms());
            assertTrue(a.relativeRms() > 1e-4, "q8 must differ from fp32 at all, or the comparison compared fp32 with itself");
            assertTrue(a.argmaxAgreement() >= AGREEMENT_BOUND, "argmax agreement " + a.argmaxAgreement());
        }
    }

    /**
     * End to end, kernel against reference: the q8 model's logits equal, to float rounding, those of an fp32 model
     * holding its dequantized weights (q8 converted back to fp32: int8 x scale, exactly), which the fp32 kernels,
     * tested against llm.c, run. Every q8 path takes part: embedding, decode products, the logits over wte.
     */
    @Test
    void q8ComputesTheModelItsInt8ValuesDescribe() {
        Path q8 = convert(Fixtures.path("micro.bin"), "micro-q8.bin", DType.Q8);
        Path dequantized = convert(q8, "micro-dequantized.bin", DType.FP32);
        try (Model exact = Model.open(dequantized, 2); Model quantized = Model.open(q8, 2)) {
            Accuracy a = Accuracy.teacherForced(exact, quantized, Fixtures.full64Tokens());
            assertTrue(a.maxAbsError() < Fixtures.LOGIT_TOLERANCE, "largest logit difference " + a.maxAbsError());
            assertEquals(1.0, a.argmaxAgreement());
        }
        // The control: fp32 against its own q8 differs by far more than the tolerance, so the check above can fail.
        try (Model fp32 = Model.open(Fixtures.path("micro.bin"), 2); Model quantized = Model.open(q8, 2)) {
            assertTrue(Accuracy.teacherForced(fp32, quantized, Fixtures.full64Tokens()).maxAbsError() > 100 * Fixtures.LOGIT_TOLERANCE);
        }
    }
}
