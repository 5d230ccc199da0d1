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
import java.util.Locale;

import tinyllm.TinyLlmException;
import tinyllm.model.BFloat16;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

/**
 * The one way a checkpoint is written (random weights by {@code synthetic}, converted ones by {@code convert}):
 * the shape is validated as a reader would validate it and the disk is checked for room before the first byte;
 * values then stream in file order through one small buffer into {@code OUT.partial}, as fp32 or as bf16
 * rounded to nearest even; {@link #commit} checks the file as the engine would open it and renames it over
 * {@code OUT}. Closed without a commit, after any failure at all, the partial file is deleted.
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
    private final long values;
    private final boolean bf16;
    private final FileChannel channel;
    private final ByteBuffer buffer = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private long written;
    private boolean committed;

    private CheckpointWriter(Path out, Path partial, GPT2Config config, FileChannel channel) {
        this.out = out;
        this.partial = partial;
        this.values = config.layout().total();
        this.bf16 = config.dtype() == DType.BF16;
        this.channel = channel;
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
        if (bf16) {
            buffer.putShort(BFloat16.round(value));
        } else {
            buffer.putFloat(value);
        }
        written++;
        if (!buffer.hasRemaining()) {
            flush();
        }
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
