package tinyllm.model;

import java.util.SplittableRandom;

import tinyllm.convert.HuggingFaceFixture;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** fp32 to bf16 as PyTorch rounds it: to nearest, ties to even, NaN to its canonical quiet NaN. */
class BFloat16Test {

    static short round(int fp32Bits) {
        return BFloat16.round(Float.intBitsToFloat(fp32Bits));
    }

    @Test
    void exactValuesAreKept() {
        assertEquals((short) 0x3F80, BFloat16.round(1f));
        assertEquals((short) 0xC040, BFloat16.round(-3f));
        assertEquals((short) 0x0000, BFloat16.round(0f));
        assertEquals((short) 0x8000, BFloat16.round(-0f));
        assertEquals((short) 0x7F80, BFloat16.round(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xFF80, BFloat16.round(Float.NEGATIVE_INFINITY));
    }

    @Test
    void belowHalfRoundsDownAboveHalfRoundsUp() {
        assertEquals((short) 0x3F80, round(0x3F807FFF));
        assertEquals((short) 0x3F81, round(0x3F808001));
        assertEquals((short) 0xBF81, round(0xBF808001)); // magnitude, not value: away from zero for negatives too
    }

    @Test
    void tiesGoToTheEvenNeighbour() {
        assertEquals((short) 0x3F80, round(0x3F808000)); // kept part 0x3F80 is even: stays
        assertEquals((short) 0x3F82, round(0x3F818000)); // kept part 0x3F81 is odd: up to 0x3F82
        assertEquals((short) 0xBF82, round(0xBF818000));
        assertEquals((short) 0x0000, round(0x00008000)); // subnormals tie the same way
        assertEquals((short) 0x0002, round(0x00018000));
    }

    @Test
    void carryPropagatesIntoTheExponent() {
        assertEquals((short) 0x4000, round(0x3FFFFFFF)); // 1.99999988 -> 2
        assertEquals((short) 0x4000, round(0x3FFF8000)); // tie, odd kept part: up to 2
        assertEquals((short) 0x7F80, round(0x7F7FFFFF)); // Float.MAX_VALUE -> infinity, as PyTorch does
    }

    @Test
    void nanStaysNan() {
        assertEquals((short) 0x7FC0, BFloat16.round(Float.NaN));
        assertEquals((short) 0x7FC0, round(0x7F800001)); // adding the rounding bias would make it infinity
        assertEquals((short) 0x7FC0, round(0xFFC00000)); // sign and payload are not kept, as in PyTorch
    }

    /** Bit arithmetic against comparing distances in double, over random finite values. */
    @Test
    void agreesWithNearestByDistance() {
        SplittableRandom random = new SplittableRandom(1);
        for (int n = 0; n < 1_000_000; n++) {
            float value = Float.intBitsToFloat(random.nextInt());
            if (Float.isFinite(value) && Math.abs(value) < 0x1.FEp127f) {
                assertEquals(HuggingFaceFixture.nearestBf16(value), BFloat16.round(value), () -> Float.toHexString(value));
            }
        }
    }
}
