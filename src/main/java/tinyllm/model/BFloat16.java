package tinyllm.model;

/** fp32 to bf16 (the top 16 bits of an fp32), rounded as PyTorch's {@code .to(torch.bfloat16)} rounds; and back. */
public final class BFloat16 {
    /**
     * The quiet NaN PyTorch's scalar conversion (c10::BFloat16) writes for every NaN, whatever its sign and
     * payload. GPT-2's weights hold no NaN; what matters is that a NaN stays one.
     */
    static final short NAN = 0x7FC0;

    private BFloat16() {}

    /** The fp32 value of bf16 {@code bits}: they are its high half, the low half zero. Exact. */
    public static float toFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /**
     * Rounds to nearest, ties to even: adding 0x7FFF plus the lowest kept bit carries into the kept
     * bits exactly when the dropped half is above one half, or equal to it with an odd kept part. A
     * carry out of the mantissa correctly bumps the exponent, up to infinity.
     */
    public static short round(float value) {
        if (Float.isNaN(value)) {
            return NAN; // the carry could otherwise turn a NaN's payload into infinity
        }
        int bits = Float.floatToRawIntBits(value);
        int bias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + bias) >>> 16);
    }
}
