package tinyllm.convert;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.LongStream;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.model.BFloat16;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

import static tinyllm.model.ParameterLayout.NAMES;
import static tinyllm.model.ParameterLayout.WTE;

/**
 * Hugging Face GPT-2 to llm.c checkpoint, byte for byte what llm.c's {@code train_gpt2.py write_model}
 * writes: the 256-int header, then the 16 tensors in llm.c order, fp32 (version 3) or bf16 (version 5).
 *
 * <p>Values stream from the mapped safetensors through one small buffer into {@code OUT.partial},
 * renamed over {@code OUT} once complete, so memory stays flat even for gpt2-xl's 6 GB.
 */
public final class Converter {
    private static final int BUFFER_BYTES = 1 << 20;
    private static final int MAX_NAMES_LISTED = 5;

    /**
     * One Hugging Face tensor feeding an llm.c tensor.
     *
     * @param shape  as Hugging Face stores it
     * @param conv1d a Conv1D weight, stored [in, out]: llm.c's matmuls want [out, in], so it is transposed
     */
    record Source(String name, boolean conv1d, long... shape) {}

    private Converter() {}

    /** The sources of each of llm.c's 16 tensors, in llm.c's order; per-layer tensors stack their layers. */
    static List<List<Source>> plan(GPT2Config config) {
        long C = config.channels();
        return List.of(
                List.of(new Source("wte.weight", false, config.vocabSize(), C)), // wte (Vp, C), padded after
                List.of(new Source("wpe.weight", false, config.maxSeqLen(), C)), // wpe (maxT, C)
                perLayer(config, "ln_1.weight", false, C),                      // ln1w (L, C)
                perLayer(config, "ln_1.bias", false, C),                        // ln1b (L, C)
                perLayer(config, "attn.c_attn.weight", true, C, 3 * C),         // qkvw (L, 3C, C)
                perLayer(config, "attn.c_attn.bias", false, 3 * C),             // qkvb (L, 3C)
                perLayer(config, "attn.c_proj.weight", true, C, C),             // attprojw (L, C, C)
                perLayer(config, "attn.c_proj.bias", false, C),                 // attprojb (L, C)
                perLayer(config, "ln_2.weight", false, C),                      // ln2w (L, C)
                perLayer(config, "ln_2.bias", false, C),                        // ln2b (L, C)
                perLayer(config, "mlp.c_fc.weight", true, C, 4 * C),            // fcw (L, 4C, C)
                perLayer(config, "mlp.c_fc.bias", false, 4 * C),                // fcb (L, 4C)
                perLayer(config, "mlp.c_proj.weight", true, 4 * C, C),          // fcprojw (L, C, 4C)
                perLayer(config, "mlp.c_proj.bias", false, C),                  // fcprojb (L, C)
                List.of(new Source("ln_f.weight", false, C)),                   // lnfw (C)
                List.of(new Source("ln_f.bias", false, C)));                    // lnfb (C)
    }

    private static List<Source> perLayer(GPT2Config config, String name, boolean conv1d, long... shape) {
        List<Source> layers = new ArrayList<>();
        for (int l = 0; l < config.layers(); l++) {
            layers.add(new Source("h." + l + "." + name, conv1d, shape));
        }
        return layers;
    }

    /**
     * Converts {@code model} into an llm.c checkpoint at {@code out}, printing one line per tensor to {@code log}.
     * Everything is checked before the first byte is written.
     */
    public static GPT2Config convert(HuggingFaceModel model, Path out, DType dtype, PrintStream log) {
        GPT2Config config = model.config(dtype);
        List<List<Source>> plan = plan(config);
        checkSources(model, config, plan);
        warnIfUntied(model, log);
        log.printf(Locale.ROOT, "converting %s (L=%d NH=%d C=%d V=%d maxT=%d) to %s as %s%n", model.source(),
                config.layers(), config.heads(), config.channels(), config.vocabSize(), config.maxSeqLen(), out,
                dtype.name().toLowerCase(Locale.ROOT));
        long start = System.nanoTime();
        Path partial = out.resolveSibling(out.getFileName() + ".partial");
        try {
            if (out.toAbsolutePath().getParent() != null) {
                Files.createDirectories(out.toAbsolutePath().getParent());
            }
            try (FileChannel channel = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                write(model, config, plan, new Sink(channel, dtype), log);
            }
            try (Arena arena = Arena.ofConfined()) {
                Checkpoint.open(partial, arena); // the engine's own header and length checks, before the rename
            }
            Files.move(partial, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(partial);
            throw TinyLlmException.io("cannot write", out, e);
        }
        log.printf(Locale.ROOT, "wrote %s: %.1f MB in %.1f s%n", out, (Checkpoint.HEADER_BYTES
                + config.layout().bytes(dtype)) / 1e6, (System.nanoTime() - start) / 1e9);
        return config;
    }

    /**
     * Where llm.c's naming puts a released GPT-2 shape: {@code dir/gpt2-124M.bin}, {@code gpt2-355M},
     * {@code gpt2-774M}, {@code gpt2-1558M}, with {@code -bf16} for bf16; empty for any other shape.
     */
    public static Optional<Path> defaultOutput(Path dir, GPT2Config config) {
        return List.of("124M", "355M", "774M", "1558M").stream()
                .filter(size -> GPT2Config.named(size, config.dtype()).equals(config))
                .findFirst()
                .map(size -> dir.resolve("gpt2-" + size + (config.dtype() == DType.BF16 ? "-bf16" : "") + ".bin"));
    }

    private static void checkSources(HuggingFaceModel model, GPT2Config config, List<List<Source>> plan) {
        List<String> missing = plan.stream().flatMap(List::stream).map(Source::name)
                .filter(name -> model.tensor(name) == null).toList();
        if (!missing.isEmpty()) {
            String listed = String.join(", ", missing.subList(0, Math.min(missing.size(), MAX_NAMES_LISTED)));
            throw new TinyLlmException(model.source() + " lacks " + missing.size() + " GPT-2 tensor"
                    + (missing.size() == 1 ? "" : "s") + ": " + listed + (missing.size() > MAX_NAMES_LISTED ? ", ..." : ""));
        }
        for (List<Source> sources : plan) {
            for (Source source : sources) {
                Safetensors.Tensor tensor = model.tensor(source.name());
                if (!Arrays.equals(tensor.shape(), source.shape())) {
                    throw new TinyLlmException("tensor " + tensor.name() + " in " + tensor.file() + " has shape "
                            + Arrays.toString(tensor.shape()) + ", expected " + Arrays.toString(source.shape())
                            + " for config.json's n_positions " + config.maxSeqLen() + ", vocab_size " + config.vocabSize()
                            + ", n_embd " + config.channels());
                }
                tensor.encoding(); // refuses an unsupported dtype now rather than halfway through the file
            }
        }
    }

    /** llm.c ties the output projection to wte; a checkpoint whose lm_head differs would convert into another model. */
    private static void warnIfUntied(HuggingFaceModel model, PrintStream log) {
        Safetensors.Tensor head = model.tensor("lm_head.weight"), wte = model.tensor("wte.weight");
        if (head != null && !sameValues(head, wte)) {
            log.println("warning: lm_head.weight differs from wte.weight; llm.c ties them, so the checkpoint uses wte for both");
        }
    }

    private static boolean sameValues(Safetensors.Tensor a, Safetensors.Tensor b) {
        Safetensors.Encoding ea = Safetensors.Encoding.of(a.dtype()), eb = Safetensors.Encoding.of(b.dtype());
        if (ea == null || eb == null || !Arrays.equals(a.shape(), b.shape())) {
            return false;
        }
        return LongStream.range(0, a.elements()).allMatch(i ->
                Float.floatToIntBits(ea.read(a.data(), i)) == Float.floatToIntBits(eb.read(b.data(), i)));
    }

    private static void write(HuggingFaceModel model, GPT2Config config, List<List<Source>> plan, Sink sink,
                              PrintStream log) throws IOException {
        sink.header(config);
        long total = config.layout().total(), done = 0;
        for (int t = 0; t < plan.size(); t++) {
            for (Source source : plan.get(t)) {
                Safetensors.Tensor tensor = model.tensor(source.name());
                if (source.conv1d()) {
                    sink.transposed(tensor, source.shape()[0], source.shape()[1]);
                } else {
                    sink.copy(tensor);
                }
            }
            if (t == WTE) {
                // llm.c pads wte to Vp rows so its matmuls tile evenly; the padding rows are zero.
                sink.zeros((long) (config.vocabPadded() - config.vocabSize()) * config.channels());
            }
            long size = config.layout().sizes()[t];
            done += size;
            log.printf(Locale.ROOT, "  %3d%%  %-9s %,15d values%n", Math.round(100.0 * done / total), NAMES[t], size);
        }
        sink.flush();
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // the write already failed; that error is the one to report
        }
    }

    /** Buffers values on their way to the file, as fp32 or as bf16 rounded to nearest even. */
    private static final class Sink {
        private final FileChannel channel;
        private final DType dtype;
        private final ByteBuffer buffer = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);

        Sink(FileChannel channel, DType dtype) {
            this.channel = channel;
            this.dtype = dtype;
        }

        /** llm.c's header: {@code [20240326, version, maxT, V, L, NH, C, Vp]}, zeros up to 256 ints. */
        void header(GPT2Config config) {
            for (int field : Checkpoint.header(config)) {
                buffer.putInt(field);
            }
        }

        void copy(Safetensors.Tensor tensor) throws IOException {
            Safetensors.Encoding encoding = tensor.encoding();
            MemorySegment data = tensor.data();
            for (long i = 0, n = tensor.elements(); i < n; i++) {
                put(encoding.read(data, i));
            }
        }

        /** Writes an [in, out] matrix as [out, in]: row o of the output is column o of the source. */
        void transposed(Safetensors.Tensor tensor, long in, long out) throws IOException {
            Safetensors.Encoding encoding = tensor.encoding();
            MemorySegment data = tensor.data();
            for (long o = 0; o < out; o++) {
                for (long i = 0; i < in; i++) {
                    put(encoding.read(data, i * out + o));
                }
            }
        }

        void zeros(long count) throws IOException {
            for (long i = 0; i < count; i++) {
                put(0f);
            }
        }

        private void put(float value) throws IOException {
            if (dtype == DType.FP32) {
                buffer.putFloat(value);
            } else {
                buffer.putShort(BFloat16.round(value));
            }
            if (!buffer.hasRemaining()) {
                flush();
            }
        }

        void flush() throws IOException {
            buffer.flip();
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            buffer.clear();
        }
    }
}
