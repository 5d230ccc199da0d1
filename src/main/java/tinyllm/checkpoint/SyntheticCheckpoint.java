package tinyllm.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

import tinyllm.TinyLlmException;
import tinyllm.model.BFloat16;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;
import tinyllm.model.ParameterLayout;

import static tinyllm.model.ParameterLayout.*;

/**
 * Writes a checkpoint of random weights with a real GPT-2 shape, so the engine, its tests and the
 * bench can run without downloading anything. Speed does not depend on the values.
 *
 * <p>The values follow the llm.c fixtures' generator: matrices normal(0, 0.02), layernorm gains
 * 1 + normal(0, 0.05), biases normal(0, 0.01), the padding rows of wte zero. The same seed gives the
 * same file; a bf16 file holds the fp32 file's values rounded to nearest even.
 */
public final class SyntheticCheckpoint {
    private static final int BUFFER_FLOATS = 1 << 18;

    private SyntheticCheckpoint() {}

    public static void write(Path out, GPT2Config config, long seed) {
        Checkpoint.parseHeader(out, Checkpoint.header(config)); // the same validation a reader applies
        ParameterLayout layout;
        try {
            layout = config.layout();
        } catch (ArithmeticException e) {
            throw new TinyLlmException("that shape's parameter count overflows");
        }
        RandomGenerator random = RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
        Path temp = out.resolveSibling(out.getFileName() + ".partial");
        try {
            if (out.getParent() != null) {
                Files.createDirectories(out.getParent());
            }
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer header = ByteBuffer.allocate(Checkpoint.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                header.asIntBuffer().put(Checkpoint.header(config));
                writeFully(channel, header);
                boolean bf16 = config.dtype() == DType.BF16;
                ByteBuffer buffer = ByteBuffer.allocate(BUFFER_FLOATS * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                for (int tensor = 0; tensor < NAMES.length; tensor++) {
                    long size = layout.sizes()[tensor];
                    // Only the first V rows of wte are real tokens; llm.c leaves the padding rows zero.
                    long real = tensor == WTE ? (long) config.vocabSize() * config.channels() : size;
                    for (long i = 0; i < size; i++) {
                        float value = i < real ? sample(tensor, random) : 0f;
                        if (bf16) {
                            buffer.putShort(BFloat16.round(value)); // the same draws as fp32, rounded as llm.c's exporter rounds
                        } else {
                            buffer.putFloat(value);
                        }
                        if (!buffer.hasRemaining()) {
                            writeFully(channel, buffer.flip());
                            buffer.clear();
                        }
                    }
                }
                writeFully(channel, buffer.flip());
            }
            Files.move(temp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw TinyLlmException.io("cannot write", out, e);
        }
    }

    private static float sample(int tensor, RandomGenerator random) {
        return switch (tensor) {
            case LN1W, LN2W, LNFW -> 1f + 0.05f * (float) random.nextGaussian();
            case LN1B, QKVB, ATTPROJB, LN2B, FCB, FCPROJB, LNFB -> 0.01f * (float) random.nextGaussian();
            default -> 0.02f * (float) random.nextGaussian();
        };
    }

    static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
