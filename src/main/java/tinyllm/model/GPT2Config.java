package tinyllm.model;

/**
 * The shape of a GPT-2 model, as in llm.c's checkpoint header.
 *
 * @param maxSeqLen   maxT: the context length (rows of wpe)
 * @param vocabSize   V: real tokens (50257 for GPT-2)
 * @param vocabPadded Vp: rows of wte, V rounded up so the matrix tiles nicely; rows V..Vp-1 are zero
 * @param layers      L
 * @param heads       NH
 * @param channels    C
 * @param dtype       how the parameters are stored
 * @param block       q8 only: elements of a matrix row sharing one scale (0 for fp32 and bf16)
 */
public record GPT2Config(int maxSeqLen, int vocabSize, int vocabPadded, int layers, int heads, int channels, DType dtype,
                         int block) {

    /** A shape stored as {@code dtype}, q8 in blocks of {@link DType#q8Block}. */
    public GPT2Config(int maxSeqLen, int vocabSize, int vocabPadded, int layers, int heads, int channels, DType dtype) {
        this(maxSeqLen, vocabSize, vocabPadded, layers, heads, channels, dtype, dtype == DType.Q8 ? DType.q8Block(channels) : 0);
    }

    /** The same shape stored as {@code dtype} (q8 in blocks of {@link DType#q8Block}). */
    public GPT2Config withDType(DType dtype) {
        return new GPT2Config(maxSeqLen, vocabSize, vocabPadded, layers, heads, channels, dtype);
    }

    /** The dimensions as reports print them: {@code L=12 NH=12 C=768 V=50257 maxT=1024}. */
    public String dimensions() {
        return String.format(java.util.Locale.ROOT, "L=%d NH=%d C=%d V=%d maxT=%d", layers, heads, channels, vocabSize, maxSeqLen);
    }

    public int headSize() {
        return channels / heads;
    }

    /**
     * The one context rule: a prompt of {@code promptTokens} can be continued by {@code newTokens} tokens.
     * The last new token is chosen but never fed, so it takes no place in the cache: prompt + new - 1 <= maxT.
     */
    public boolean fits(long promptTokens, long newTokens) {
        return fits(promptTokens, newTokens, maxSeqLen());
    }

    /** {@link #fits(long, long)} in a context of {@code context} tokens (a session may hold fewer than maxT). */
    public static boolean fits(long promptTokens, long newTokens, long context) {
        return promptTokens >= 1 && newTokens >= 1 && promptTokens + newTokens - 1 <= context;
    }

    /**
     * The same rule solved for the other side: beside {@code tokens} of one kind (prompt or new), at most
     * maxT + 1 - tokens of the other fit. Below 1, nothing does.
     */
    public long room(long tokens) {
        return maxSeqLen() + 1L - tokens;
    }

    /** Elements and bytes of each of llm.c's 16 parameter tensors, in file order. All in long: see {@link ParameterLayout}. */
    public ParameterLayout layout() {
        return ParameterLayout.of(this);
    }

    /**
     * Bytes of weights one decode step reads: every parameter but wte's padding rows and all but one row
     * of wpe. Memory bandwidth divided by this is the decode roofline.
     */
    public long weightBytesPerToken() {
        long unreadRows = (long) (vocabPadded - vocabSize) + (maxSeqLen - 1);
        return layout().bytes() - unreadRows * dtype.matrixBytes(channels, block);
    }

    /** The shapes GPT-2 was released in, named by parameter count as llm.c names its files. */
    public static GPT2Config named(String name, DType dtype) {
        return switch (name) {
            case "124M", "gpt2" -> new GPT2Config(1024, 50257, 50304, 12, 12, 768, dtype);
            case "355M", "gpt2-medium" -> new GPT2Config(1024, 50257, 50304, 24, 16, 1024, dtype);
            case "774M", "gpt2-large" -> new GPT2Config(1024, 50257, 50304, 36, 20, 1280, dtype);
            case "1558M", "gpt2-xl" -> new GPT2Config(1024, 50257, 50304, 48, 25, 1600, dtype);
            default -> throw new tinyllm.TinyLlmException(
                    "unknown GPT-2 shape '" + name + "': use 124M, 355M, 774M or 1558M");
        };
    }

    /** Vp as llm.c pads it: V rounded up to a multiple of 128. */
    public static int padVocab(int vocabSize) {
        return (vocabSize + 127) / 128 * 128;
    }
}
