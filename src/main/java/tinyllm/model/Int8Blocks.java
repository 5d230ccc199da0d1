package tinyllm.model;

/**
 * q8's quantization, the one rule: a block of values is stored as int8 q with one fp32 scale, value ≈ q × scale,
 * where scale = absmax / 127 (so the largest magnitude maps to ±127 exactly) and q = the value / scale rounded to
 * nearest, ties to even. Deterministic: the same values always give the same bytes. A block of zeros (wte's
 * padding rows) gets scale 0 and zeros.
 */
public final class Int8Blocks {
    private Int8Blocks() {}

    /** The scale of {@code values[from, from + n)}: their largest magnitude / 127. */
    public static float scale(float[] values, int from, int n) {
        float absmax = 0;
        for (int i = from; i < from + n; i++) {
            absmax = Math.max(absmax, Math.abs(values[i]));
        }
        return absmax / 127f;
    }

    /** {@code value} in steps of {@code scale}, to nearest (ties to even), within ±127. */
    public static byte quantize(float value, float scale) {
        if (scale == 0) return 0;
        return (byte) Math.max(-127, Math.min(127, Math.rint(value / scale)));
    }
}
