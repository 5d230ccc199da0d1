package tinyllm.checkpoint;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import tinyllm.TinyLlmException;
import tinyllm.model.BFloat16;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;
import tinyllm.model.Int8Blocks;
import tinyllm.model.ParameterLayout;

/**
 * The one way a checkpoint is written (random weights by {@code synthetic}, converted ones by {@code convert}):
 * the shape is validated as a reader would validate it and the disk is checked for room before the first byte;
 * values then stream in file order through one small buffer into {@code OUT.partial}, as fp32, as bf16
 * rounded to nearest even, or for q8 the matrices quantized block by block ({@link Int8Blocks}) with each
 * matrix's scales written after its elements; {@link #commit} checks the file as the engine would open it and
 * renames it over {@code OUT}. Closed without a commit, after any failure at all, the partial file is deleted.
 *
 * <pre>
 * try (CheckpointWriter writer = CheckpointWriter.create(out, config)) {
 *     for (...) writer.put(value);   // every parameter, in llm.c's order
 *     writer.commit();
 * }
 * </pre>
 */
public final class CheckpointWriter implements AutoCloseable {
    private static final int BUFFER_BYTES = 1 << 20;

    private final Path out;
    private final Path partial;
    private final GPT2Config config;
    private final ParameterLayout layout;
    private final long values;
    private final FileChannel channel;
    private final ByteBuffer buffer = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private long written;
    private boolean committed;

    /**
     * A run of values written alike: for q8 each matrix (one layer's, or wte or wpe) is a run of its own, quantized
     * block by block with its scales written when it ends, and each vector tensor is a run of fp32; an fp32 or bf16
     * file is one run.
     */
    private record Run(long end, boolean quantized) {}

    private final List<Run> runs = new ArrayList<>();
    private int run;                     // the run the next value belongs to
    private final float[] block;         // q8: the block being filled
    private int inBlock;
    private final float[] scales;        // q8: the current matrix's scales so far
    private int scaleCount;

    private CheckpointWriter(Path out, Path partial, GPT2Config config, FileChannel channel) {
        this.out = out;
        this.partial = partial;
        this.config = config;
        this.layout = config.layout();
        this.values = layout.total();
        this.channel = channel;
        boolean q8 = config.dtype() == DType.Q8;
        long mostScales = 0;
        for (int t = 0; t < ParameterLayout.NAMES.length && q8; t++) {
            long start = layout.offsets()[t], n = layout.sizes()[t];
            int matrices = ParameterLayout.matrices(t, config.layers());
            for (int m = 1; m <= matrices; m++) {
                runs.add(new Run(start + m * (n / matrices), true));
                mostScales = Math.max(mostScales, n / matrices / config.block());
            }
            if (matrices == 0) {
                runs.add(new Run(start + n, false));
            }
        }
        if (!q8) {
            runs.add(new Run(values, false));
        }
        this.block = q8 ? new float[config.block()] : null;
        this.scales = new float[Math.toIntExact(mostScales)];
        for (int field : Checkpoint.header(config)) {
            buffer.putInt(field);
        }
    }

    /**
     * Validates {@code config}, checks that the disk holds the whole file, and opens {@code OUT.partial}.
     *
     * @throws TinyLlmException when the shape is invalid, the file would not fit, or the output cannot be created
     */
    public static CheckpointWriter create(Path out, GPT2Config config) {
        long bytes = Checkpoint.HEADER_BYTES + Checkpoint.validate(config, "invalid shape for " + out, Checkpoint.Fields.HEADER);
        if (Files.isDirectory(out)) {
            throw new TinyLlmException("cannot write " + out + ": it is a directory");
        }
        Path partial = partialOf(out);
        try {
            Path dir = out.toAbsolutePath().getParent(), existing = dir;
            while (!Files.exists(existing)) {
                existing = existing.getParent(); // the directories to create will live on their parent's disk
            }
            long free = Files.getFileStore(existing).getUsableSpace();
            if (bytes > free) {
                throw new TinyLlmException("not enough disk space for " + out + ": the checkpoint takes "
                        + describe(bytes) + ", " + existing + " has " + describe(free) + " free");
            }
            Files.createDirectories(dir);
            FileChannel channel = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING);
            return new CheckpointWriter(out, partial, config, channel);
        } catch (IOException e) {
            deleteQuietly(partial);
            throw cannotWrite(out, e);
        }
    }

    /** Where the file is written until it is complete: {@code OUT.partial}. */
    public static Path partialOf(Path out) {
        return out.resolveSibling(out.getFileName() + ".partial");
    }

    /** Appends the next parameter, stored as the checkpoint's type. */
    public void put(float value) {
        if (written == values) {
            throw new IllegalStateException("more values than the shape's " + values);
        }
        Run current = runs.get(run);
        if (current.quantized()) {
            block[inBlock++] = value;
            if (inBlock == block.length) {
                quantizeBlock();
            }
        } else if (config.dtype() == DType.BF16) {
            putBytes(Short.BYTES).putShort(BFloat16.round(value));
        } else {
            putBytes(Float.BYTES).putFloat(value);
        }
        if (++written == current.end()) {
            if (current.quantized()) {
                for (int i = 0; i < scaleCount; i++) putBytes(Float.BYTES).putFloat(scales[i]);
                scaleCount = 0;
            }
            run++;
        }
    }

    /** The block's int8 values now, its scale with the rest of its matrix's. */
    private void quantizeBlock() {
        float scale = Int8Blocks.scale(block, 0, block.length);
        for (float value : block) {
            putBytes(1).put(Int8Blocks.quantize(value, scale));
        }
        scales[scaleCount++] = scale;
        inBlock = 0;
    }

    /** The buffer, with room for {@code bytes} more. */
    private ByteBuffer putBytes(int bytes) {
        if (buffer.remaining() < bytes) {
            flush();
        }
        return buffer;
    }

    /** Appends {@code count} zeros (wte's padding rows). */
    public void zeros(long count) {
        for (long i = 0; i < count; i++) {
            put(0f);
        }
    }

    /**
     * Finishes the file: checks that every parameter was written and that the engine opens it, then renames it
     * over {@code OUT}.
     */
    public void commit() {
        if (written != values) {
            throw new IllegalStateException(written + " values written of the shape's " + values);
        }
        flush();
        try {
            channel.close();
            try (Arena arena = Arena.ofConfined()) {
                Checkpoint.open(partial, arena); // the engine's own header and length checks, before the rename
            }
            Files.move(partial, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            committed = true;
        } catch (IOException e) {
            throw cannotWrite(out, e);
        }
    }

    /** After {@link #commit}, nothing to do; otherwise the write failed or was abandoned: the partial file goes. */
    @Override
    public void close() {
        if (!committed) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // the failure that brought us here is the one to report
            }
            deleteQuietly(partial);
        }
    }

    private void flush() {
        buffer.flip();
        try {
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        } catch (IOException e) {
            throw cannotWrite(out, e);
        }
        buffer.clear();
    }

    private static TinyLlmException cannotWrite(Path out, IOException e) {
        return new TinyLlmException("cannot write " + out + ": " + e.getMessage(), e);
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // the write already failed; that error is the one to report
        }
    }

    private static String describe(long bytes) {
        String[] units = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
        double value = bytes;
        int unit = 0;
        while (value >= 1000 && unit < units.length - 1) {
            value /= 1000;
            unit++;
        }
        return unit == 0 ? bytes + " bytes" : String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }
}
