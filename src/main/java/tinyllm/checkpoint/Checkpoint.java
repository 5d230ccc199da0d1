package tinyllm.checkpoint;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

import tinyllm.TinyLlmException;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

/**
 * An llm.c checkpoint: a 256 x int32 little-endian header
 * {@code [20240326, version, maxT, V, L, NH, C, Vp, 0...]} followed by the 16 parameter tensors: version 3
 * stores them in fp32, 5 in bf16, and 8 (ours: {@code [.., Vp, block, 0...]}) the matrices in int8 with a
 * scale per block, the rest in fp32 (see {@link tinyllm.model.ParameterLayout}).
 *
 * <p>By default the file is mapped read-only and never copied: {@link #parameters()} is the mapping
 * itself, starting at the first parameter, and lives as long as the arena it was mapped into. The
 * pages are the operating system's page cache, shared with every process mapping the file, and are
 * read from disk on first use; the price is that the file must not shrink while it is mapped (a read of
 * a page that is gone is a SIGBUS, see {@link #changedWhileInUse}). Opened with {@code map = false}, the
 * parameters are read into memory of our own instead: slower to open, twice the memory while the page
 * cache still holds the file, and indifferent to what happens to the file afterwards.
 */
public final class Checkpoint {
    public static final int MAGIC = 20240326;
    public static final int HEADER_INTS = 256;
    public static final int HEADER_BYTES = HEADER_INTS * Integer.BYTES;

    // Generous bounds on a sane header: far above any GPT-2, far below sizes that stop making sense.
    static final int MAX_SEQ_LEN = 1 << 20;
    public static final int MAX_VOCAB = 1 << 24; // also the most a Sampler takes
    static final int MAX_LAYERS = 1 << 12;
    static final int MAX_CHANNELS = 1 << 16;
    /** Largest q8 block: a whole row of gpt2-xl's widest matrix fits many times over. */
    static final int MAX_BLOCK = 1 << 12;

    private final Path path;
    private final GPT2Config config;
    private final MemorySegment parameters;

    /** Mapped checkpoints: the open file, for {@link #requireIntact}; closed with the mapping's arena. Null when read. */
    private final FileChannel file;

    private Checkpoint(Path path, GPT2Config config, MemorySegment parameters, FileChannel file) {
        this.path = path;
        this.config = config;
        this.parameters = parameters;
        this.file = file;
    }

    /**
     * Throws {@link #changedWhileInUse} if the mapped file is now shorter than its mapping (someone truncated or
     * rewrote it in place). Asked before every forward pass: a read of a page past the new end is a SIGBUS, which
     * HotSpot turns into an exception only in code it knows to read memory unsafely (see {@link #changedWhileInUse});
     * until the kernels are compiled by C2 that is not certain, and the JVM would die. One fstat of the file it
     * mapped (a file renamed over the path is another file and harms nothing), a microsecond a step.
     */
    public void requireIntact() {
        if (file == null) {
            return;
        }
        try {
            if (file.size() < HEADER_BYTES + parameters.byteSize()) {
                throw changedWhileInUse(null);
            }
        } catch (java.io.IOException e) {
            throw changedWhileInUse(e);
        }
    }

    public Path path() {
        return path;
    }

    public GPT2Config config() {
        return config;
    }

    /** All parameters, in file order, as stored (fp32, bf16 or q8 bytes). */
    public MemorySegment parameters() {
        return parameters;
    }

    /** True if {@link #parameters()} is a mapping of the file, false if it was read into memory. */
    public boolean mapped() {
        return file != null;
    }

    /**
     * What a fault while reading the parameters means, for the user. HotSpot turns the SIGBUS of a read
     * from a mapped page that no longer exists (the file was truncated) into an {@link InternalError} in
     * the thread that read it, but only in code it knows to access memory unsafely: the interpreter, and
     * compiled methods holding a scalar {@code MemorySegment} access (the kernels make sure of that, see
     * {@code Simd.faultable}). Elsewhere the same fault kills the JVM; copying the weights
     * ({@code --no-mmap}) is the only way to be immune.
     */
    public TinyLlmException changedWhileInUse(Throwable fault) {
        return new TinyLlmException("checkpoint " + path + " changed or truncated while in use: it is memory-mapped, so it"
                + " must stay as it is while tinyllm runs (--no-mmap reads it into memory instead)", fault);
    }

    /** Whether {@code path} is a regular file that starts with llm.c's magic number (to tell it from other inputs). */
    public static boolean isCheckpoint(Path path) {
        if (!Files.isRegularFile(path)) return false;
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer first = ByteBuffer.allocate(Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            while (first.hasRemaining() && channel.read(first) >= 0) { }
            return !first.hasRemaining() && first.getInt(0) == MAGIC;
        } catch (IOException e) {
            return false; // not ours to report: the other reader will say what is wrong with it
        }
    }

    /**
     * The storage type a checkpoint's header names, or null if {@code path} is not a checkpoint that {@link #open}
     * would accept (the same checks, {@link #read}, without mapping anything): a peek at the header, for choosing
     * what to warm up before {@link #open} says what is wrong. Not a pipe or device: opening one could block.
     */
    public static DType storageType(Path path) {
        if (!Files.isRegularFile(path)) return null;
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return read(path, readHeader(channel), channel.size()).dtype();
        } catch (IOException | TinyLlmException e) {
            return null; // not ours to report: open() will say what is wrong with it
        }
    }

    /** {@link #open(Path, Arena, boolean)}, mapping the file. */
    public static Checkpoint open(Path path, Arena arena) {
        return open(path, arena, true);
    }

    /**
     * Validates the header and the file length, then maps the file read-only into {@code arena}
     * ({@code map}) or reads its parameters into memory allocated from {@code arena}.
     *
     * @throws TinyLlmException with a one-line message when the path is empty, the file is missing, not a regular
     *                          file, not a checkpoint, of an unsupported version, inconsistent or of the wrong length
     */
    public static Checkpoint open(Path path, Arena arena, boolean map) {
        if (path.toString().isEmpty()) {
            // The empty path is the working directory to the JDK: left to the checks below, it "is a directory".
            throw new TinyLlmException("the checkpoint path is empty: give the checkpoint file to load");
        }
        try {
            BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class);
            if (attributes.isDirectory()) {
                throw new TinyLlmException("checkpoint " + path + " is a directory, not a file");
            }
            if (!attributes.isRegularFile()) {
                // A pipe would block the open until someone writes to it; a device has no length to check.
                throw new TinyLlmException("checkpoint " + path + " is not a regular file (a pipe, socket or device?): give a checkpoint file");
            }
        } catch (NoSuchFileException e) {
            throw new TinyLlmException("checkpoint " + path + " " + TinyLlmException.missing(path));
        } catch (IOException e) {
            throw TinyLlmException.io("cannot read checkpoint", path, e);
        }
        FileChannel channel = null;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
            long fileSize = channel.size();
            GPT2Config config = read(path, readHeader(channel), fileSize);
            long parameterBytes = fileSize - HEADER_BYTES;
            if (!map) {
                return new Checkpoint(path, config, readIntoMemory(path, channel, parameterBytes, arena), null); // finally closes the file
            }
            // The channel stays open while the mapping lives (for requireIntact), and closes with the arena.
            FileChannel open = channel;
            MemorySegment parameters = uniform(channel.map(FileChannel.MapMode.READ_ONLY, HEADER_BYTES, parameterBytes, arena), arena,
                    () -> closeQuietly(open));
            channel = null;
            return new Checkpoint(path, config, parameters, open);
        } catch (NoSuchFileException e) {
            throw new TinyLlmException("checkpoint " + path + " " + TinyLlmException.missing(path));
        } catch (IOException e) {
            throw TinyLlmException.io("cannot read checkpoint", path, e);
        } finally {
            if (channel != null) closeQuietly(channel); // a failure before the mapping took it
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            // nothing left to read through it
        }
    }

    /** The file's first {@link #HEADER_BYTES} bytes, or all of a shorter file, from position 0 to the limit. */
    private static ByteBuffer readHeader(FileChannel channel) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
        while (header.hasRemaining() && channel.read(header, header.position()) >= 0) { }
        return header.flip();
    }

    /**
     * Everything {@link #open} checks before mapping, from the file's first bytes and its length alone (pure,
     * so that it can be fuzzed from bytes): the header, then that the file holds exactly header + parameters.
     *
     * @param start    the file's first bytes (its header if the file is long enough), from position 0 to the limit
     * @param fileSize the file's length in bytes
     */
    static GPT2Config read(Path path, ByteBuffer start, long fileSize) {
        if (fileSize < HEADER_BYTES || start.remaining() < HEADER_BYTES) {
            throw new TinyLlmException("checkpoint " + path + " is truncated: " + fileSize
                    + " bytes, shorter than the " + HEADER_BYTES + "-byte header");
        }
        int[] ints = new int[HEADER_INTS];
        start.slice(0, HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(ints);
        GPT2Config config = parseHeader(path, ints);
        long expected = HEADER_BYTES + config.layout().bytes();
        if (fileSize < expected) {
            throw new TinyLlmException("checkpoint " + path + " is truncated: expected " + describeBytes(expected)
                    + " for its header's shape, file has " + describeBytes(fileSize));
        }
        if (fileSize > expected) {
            throw new TinyLlmException("checkpoint " + path + " has " + (fileSize - expected)
                    + " trailing bytes: expected exactly " + expected + " bytes for its header's shape, file has " + fileSize);
        }
        return config;
    }

    /**
     * The parameters copied into native memory of {@code arena}: the same segment class as the re-viewed
     * mapping and the activations (see {@link #uniform}), so the kernels' call sites stay monomorphic, and
     * never on the Java heap (the channel reads straight into the segment).
     */
    private static MemorySegment readIntoMemory(Path path, FileChannel channel, long bytes, Arena arena) throws IOException {
        MemorySegment copy = arena.allocate(bytes, 64);
        for (long done = 0; done < bytes; ) {
            int n = channel.read(copy.asSlice(done, Math.min(bytes - done, 1 << 30)).asByteBuffer(), HEADER_BYTES + done);
            if (n < 0) {
                throw new TinyLlmException("checkpoint " + path + " changed or truncated while it was read: it ended after "
                        + (HEADER_BYTES + done) + " of " + (HEADER_BYTES + bytes) + " bytes");
            }
            done += n;
        }
        return copy.asReadOnly();
    }

    /**
     * Re-views the mapping as a plain native segment over the same memory (no copy). The Vector API's
     * memory-access call sites then see one segment class for weights and activations alike; a
     * mapped-segment class next to arena segments made them polymorphic and cost 30-40 %.
     */
    private static MemorySegment uniform(MemorySegment mapping, Arena arena, Runnable onClose) {
        return MemorySegment.ofAddress(mapping.address()).reinterpret(mapping.byteSize(), arena, segment -> onClose.run()).asReadOnly();
    }

    /**
     * The header llm.c writes for {@code config}: {@code [20240326, version, maxT, V, L, NH, C, Vp]}, zeros to 256
     * ints; for q8, the block size after Vp.
     */
    public static int[] header(GPT2Config config) {
        int[] h = new int[HEADER_INTS];
        h[0] = MAGIC;
        h[1] = config.dtype().checkpointVersion;
        h[2] = config.maxSeqLen();
        h[3] = config.vocabSize();
        h[4] = config.layers();
        h[5] = config.heads();
        h[6] = config.channels();
        h[7] = config.vocabPadded();
        h[8] = config.block();
        return h;
    }

    /** Reads and validates a header: magic, version, then the shape as {@link #validate} checks every shape. */
    static GPT2Config parseHeader(Path path, int[] h) {
        if (h[0] != MAGIC) {
            throw new TinyLlmException("not an llm.c GPT-2 checkpoint: " + path + " starts with magic " + h[0]
                    + ", expected " + MAGIC);
        }
        DType dtype = DType.ofVersion(h[1]);
        if (dtype == null) {
            throw new TinyLlmException("unsupported checkpoint version " + h[1] + " in " + path
                    + ": tinyllm reads version 3 (fp32), 5 (bf16) and 8 (q8)");
        }
        // llm.c leaves the ints after Vp zero: only q8 gives the one after Vp a meaning.
        GPT2Config config = new GPT2Config(h[2], h[3], h[7], h[4], h[5], h[6], dtype, dtype == DType.Q8 ? h[8] : 0);
        validate(config, "invalid checkpoint header in " + path, Fields.HEADER);
        return config;
    }

    /** What a shape's dimensions are called where they come from: llm.c's header, or a Hugging Face config.json. */
    public record Fields(String maxT, String vocab, String layers, String heads, String channels, String vocabPadded,
                         String block) {
        public static final Fields HEADER = new Fields("maxT", "V", "L", "NH", "C", "Vp", "block");
    }

    /**
     * The one validation of a shape, wherever it comes from: a checkpoint's header, a Hugging Face config.json
     * before anything is planned, the synthetic writer's dimensions. Each dimension within generous bounds, the
     * heads dividing the channels, {@code Vp >= V}, for q8 a block that is a multiple of 4 (so every scale is
     * 4-byte aligned) and divides C (so no block straddles two rows), and a parameter count that fits a long.
     *
     * @param what   how the message starts, e.g. "invalid checkpoint header in FILE"
     * @param fields the names of the dimensions, for the message
     * @return the bytes of the parameters
     */
    public static long validate(GPT2Config config, String what, Fields fields) {
        requireInRange(what, fields.maxT(), "context length", config.maxSeqLen(), MAX_SEQ_LEN);
        requireInRange(what, fields.vocab(), "vocabulary size", config.vocabSize(), MAX_VOCAB);
        requireInRange(what, fields.layers(), "layers", config.layers(), MAX_LAYERS);
        requireInRange(what, fields.channels(), "channels", config.channels(), MAX_CHANNELS);
        requireInRange(what, fields.heads(), "heads", config.heads(), config.channels());
        requireInRange(what, fields.vocabPadded(), "padded vocabulary", config.vocabPadded(), MAX_VOCAB);
        if (config.channels() % config.heads() != 0) {
            throw new TinyLlmException(what + ": " + fields.channels() + " = " + config.channels()
                    + " channels is not divisible by " + fields.heads() + " = " + config.heads() + " heads");
        }
        if (config.vocabPadded() < config.vocabSize()) {
            throw new TinyLlmException(what + ": padded vocabulary " + fields.vocabPadded() + " = " + config.vocabPadded()
                    + " is smaller than " + fields.vocab() + " = " + config.vocabSize());
        }
        if (config.dtype() == DType.Q8) {
            requireInRange(what, fields.block(), "q8 block size", config.block(), MAX_BLOCK);
            if (config.block() % 4 != 0 || config.channels() % config.block() != 0) {
                throw new TinyLlmException(what + ": q8 " + fields.block() + " = " + config.block() + " must be a multiple of 4"
                        + " that divides " + fields.channels() + " = " + config.channels() + " channels");
            }
        }
        return config.layout().bytes(); // within these bounds, below 2^50: no overflow
    }

    private static void requireInRange(String what, String name, String meaning, int value, int max) {
        if (value <= 0 || value > max) {
            throw new TinyLlmException(what + ": " + name + " (" + meaning + ") = " + value + " is outside 1.." + max);
        }
    }

    private static String describeBytes(long bytes) {
        if (bytes >= 10_000_000) return bytes / 1_000_000 + " MB (" + bytes + " bytes)";
        return bytes + " bytes";
    }
}
