package tinyllm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The llm.c reference fixtures in src/test/resources/fixtures (see the README there): random-weight
 * checkpoints, the logits llm.c computed for them, and llm.c's greedy continuations.
 */
public final class Fixtures {
    /**
     * Engine vs llm.c tolerance on logits. The fixtures' README measured llm.c against float64 numpy at
     * ~1e-7 (float32 rounding of |logits| < 1); a float32 engine summing in another order lands within
     * ~1e-6, so 1e-5 fails on any real bug and never on summation order.
     */
    public static final float LOGIT_TOLERANCE = 1e-5f;

    public static final int[] PROMPT8_MICRO = {10, 200, 257, 499, 0, 42, 300, 7};
    public static final int[] PROMPT8_VOCAB = {7454, 2402, 257, 640, 11, 262, 995, 373};
    public static final int[] GREEDY_PROMPT_MICRO = {10, 200, 257, 499};
    public static final int[] ONCE_UPON_A_TIME = {7454, 2402, 257, 640};

    private Fixtures() {}

    public static Path path(String name) {
        try {
            return Path.of(Fixtures.class.getResource("/fixtures/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing test fixture " + name, e);
        }
    }

    /** The llm.c checkpoint {@code source} rewritten as {@code dtype} at {@code out}, through the engine's own converter. */
    public static Path converted(Path source, Path out, tinyllm.model.DType dtype) {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            tinyllm.convert.Converter.convert(tinyllm.checkpoint.Checkpoint.open(source, arena), out, dtype,
                    new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        }
        return out;
    }

    /** micro.bin converted to q8 (blocks of 16: C = 48) in {@code dir}. */
    public static Path q8Micro(Path dir) {
        return converted(path("micro.bin"), dir.resolve("micro-q8.bin"), tinyllm.model.DType.Q8);
    }

    /** Raw little-endian float32 [rows][cols]. */
    public static float[][] logits(String name, int cols) {
        try {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(path(name))).order(ByteOrder.LITTLE_ENDIAN);
            int rows = b.remaining() / Float.BYTES / cols;
            float[][] out = new float[rows][cols];
            for (float[] row : out) {
                b.asFloatBuffer().get(row);
                b.position(b.position() + cols * Float.BYTES);
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The token column of a {@code step token gap} greedy file. */
    public static int[] greedyTokens(String name) {
        try {
            List<String> lines = Files.readAllLines(path(name)).stream().filter(l -> !l.isBlank()).toList();
            return lines.stream().mapToInt(l -> Integer.parseInt(l.trim().split("\\s+")[1])).toArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The 64 tokens of the full-context fixture: (i*37+11) % 500. */
    public static int[] full64Tokens() {
        int[] t = new int[64];
        for (int i = 0; i < 64; i++) t[i] = (i * 37 + 11) % 500;
        return t;
    }

    public static float maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) throw new IllegalArgumentException(a.length + " != " + b.length);
        float max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        return max;
    }
}
