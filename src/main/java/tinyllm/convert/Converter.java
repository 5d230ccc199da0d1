package tinyllm.convert;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.LongStream;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.checkpoint.CheckpointWriter;
import tinyllm.model.BFloat16;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;
import tinyllm.model.Matrix;
import tinyllm.model.Weights;

import static tinyllm.model.ParameterLayout.*;

/**
 * Hugging Face GPT-2 to llm.c checkpoint, byte for byte what llm.c's {@code train_gpt2.py write_model}
 * writes: the 256-int header, then the 16 tensors in llm.c order, fp32 (version 3) or bf16 (version 5); or
 * q8 (our version 8). Also an llm.c checkpoint into another storage type ({@link #convert(Checkpoint, Path,
 * DType, PrintStream)}), for a q8 file from the fp32 or bf16 one already on disk.
 *
 * <p>Values stream from the mapped safetensors through the {@link CheckpointWriter} (one small buffer, then
 * {@code OUT.partial} renamed over {@code OUT} once complete), so memory stays flat even for gpt2-xl's 6 GB.
 */
public final class Converter {
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
     * Everything but the values is checked before the first byte is written; a non-finite value stops the
     * conversion, and the partial file is deleted.
     */
    public static GPT2Config convert(HuggingFaceModel model, Path out, DType dtype, PrintStream log) {
        GPT2Config config = model.config(dtype);
        refuseToOverwriteAnInput(model, out);
        List<List<Source>> plan = plan(config);
        checkSources(model, config, plan);
        refuseUnusedTensors(model, config, plan);
        warnIfUntied(model, log);
        log.printf(Locale.ROOT, "converting %s (%s) to %s as %s%n", model.source(), config.dimensions(), out, dtype.label());
        long start = System.nanoTime();
        try (CheckpointWriter writer = CheckpointWriter.create(out, config)) {
            write(model, config, plan, new Values(writer, dtype), log);
            writer.commit();
        }
        logWritten(log, out, config, start);
        return config;
    }

    /**
     * Rewrites the llm.c checkpoint {@code source} (any version) as {@code dtype} at {@code out}: every value read
     * as the engine reads it (bf16 widened, q8 dequantized) and written through the one {@link CheckpointWriter}, so
     * fp32 to q8 here gives the same bytes as a Hugging Face folder to q8. A non-finite value stops the conversion.
     */
    public static GPT2Config convert(Checkpoint source, Path out, DType dtype, PrintStream log) {
        GPT2Config from = source.config(), config = from.withDType(dtype);
        if (isSameFile(out, source.path()) || isSameFile(CheckpointWriter.partialOf(out), source.path())) {
            throw new TinyLlmException("refusing to write " + out + ": it is the checkpoint being converted; choose another output");
        }
        log.printf(Locale.ROOT, "converting %s (%s, %s) to %s as %s%n", source.path(), from.dtype().label(), config.dimensions(),
                out, dtype.label());
        long start = System.nanoTime();
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined();
             CheckpointWriter writer = CheckpointWriter.create(out, config)) {
            Weights w = Weights.of(from, source.parameters(), arena);
            CheckpointValues values = new CheckpointValues(writer, source.path());
            values.matrix("wte", w.wte());
            values.matrix("wpe", w.wpe());
            for (int tensor = LN1W; tensor <= FCPROJB; tensor++) { // the per-layer tensors, each stacking its layers
                for (int l = 0; l < config.layers(); l++) {
                    Weights.Layer layer = w.layers()[l];
                    String name = "h." + l + "." + NAMES[tensor];
                    switch (tensor) {
                        case LN1W -> values.vector(name, layer.ln1w());
                        case LN1B -> values.vector(name, layer.ln1b());
                        case QKVW -> values.matrix(name, layer.qkvw());
                        case QKVB -> values.vector(name, layer.qkvb());
                        case ATTPROJW -> values.matrix(name, layer.attprojw());
                        case ATTPROJB -> values.vector(name, layer.attprojb());
                        case LN2W -> values.vector(name, layer.ln2w());
                        case LN2B -> values.vector(name, layer.ln2b());
                        case FCW -> values.matrix(name, layer.fcw());
                        case FCB -> values.vector(name, layer.fcb());
                        case FCPROJW -> values.matrix(name, layer.fcprojw());
                        default -> values.vector(name, layer.fcprojb());
                    }
                }
            }
            values.vector("lnfw", w.lnfw());
            values.vector("lnfb", w.lnfb());
            writer.commit();
        } catch (InternalError e) {
            throw source.changedWhileInUse(e); // the mapped source truncated under the conversion
        }
        logWritten(log, out, config, start);
        return config;
    }

    private static void logWritten(PrintStream log, Path out, GPT2Config config, long startNanos) {
        log.printf(Locale.ROOT, "wrote %s: %.1f MB in %.1f s%n", out, (Checkpoint.HEADER_BYTES + config.layout().bytes()) / 1e6,
                (System.nanoTime() - startNanos) / 1e9);
    }

    /** An llm.c checkpoint's values, as fp32, into the writer; a NaN or infinity stops the conversion. */
    private record CheckpointValues(CheckpointWriter writer, Path source) {
        void matrix(String name, Matrix m) {
            for (long r = 0; r < m.rows(); r++) {
                for (long c = 0; c < m.cols(); c++) {
                    put(name, r * m.cols() + c, m.get(r, c));
                }
            }
        }

        /** A bias or layernorm vector: always fp32 in the engine's views. */
        void vector(String name, MemorySegment v) {
            for (long i = 0, n = v.byteSize() / Float.BYTES; i < n; i++) {
                put(name, i, v.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i));
            }
        }

        private void put(String name, long index, float value) {
            if (!Float.isFinite(value)) {
                throw new TinyLlmException("checkpoint " + source + " holds " + value + " in " + name + " at element " + index
                        + ": refusing to convert non-finite weights");
            }
            writer.put(value);
        }
    }

    /**
     * Where llm.c's naming puts a released GPT-2 shape: {@code dir/gpt2-124M.bin}, {@code gpt2-355M},
     * {@code gpt2-774M}, {@code gpt2-1558M}, with {@code -bf16} or {@code -q8} before {@code .bin} for those types;
     * empty for any other shape.
     */
    public static Optional<Path> defaultOutput(Path dir, GPT2Config config) {
        return List.of("124M", "355M", "774M", "1558M").stream()
                .filter(size -> GPT2Config.named(size, config.dtype()).equals(config))
                .findFirst()
                .map(size -> dir.resolve("gpt2-" + size + config.dtype().fileSuffix() + ".bin"));
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

    /** Writing over config.json or a shard would destroy the model being read (and fault its mapping). */
    private static void refuseToOverwriteAnInput(HuggingFaceModel model, Path out) {
        Path partial = CheckpointWriter.partialOf(out);
        for (Path input : model.inputs()) {
            for (Path target : List.of(out, partial)) {
                if (isSameFile(target, input)) {
                    throw new TinyLlmException("refusing to write " + target + ": it is "
                            + (target.equals(input) ? "" : "the same file as ") + input
                            + ", an input of the conversion; choose another output");
                }
            }
        }
    }

    private static boolean isSameFile(Path a, Path b) {
        try {
            return Files.exists(a) && Files.isSameFile(a, b);
        } catch (IOException e) {
            throw new TinyLlmException("cannot compare " + a + " with " + b + ": " + e.getMessage(), e);
        }
    }

    /**
     * Every tensor must be converted or be one llm.c has no use for (the attention-mask buffers of the layers
     * converted, the lm_head tied to wte). Others mean config.json and the weights disagree: with n_layer 1 over
     * a 2-layer file, layer 1 would silently vanish.
     */
    private static void refuseUnusedTensors(HuggingFaceModel model, GPT2Config config, List<List<Source>> plan) {
        Set<String> used = new HashSet<>(List.of("lm_head.weight"));
        plan.stream().flatMap(List::stream).forEach(source -> used.add(source.name()));
        for (int l = 0; l < config.layers(); l++) {
            used.add("h." + l + ".attn.bias");
            used.add("h." + l + ".attn.masked_bias");
        }
        List<String> unused = model.tensorNames().stream().filter(name -> !used.contains(name)).sorted(BY_LAYER).toList();
        if (!unused.isEmpty()) {
            String listed = String.join(", ", unused.subList(0, Math.min(unused.size(), MAX_NAMES_LISTED)));
            throw new TinyLlmException(model.source() + " holds " + unused.size() + " tensor"
                    + (unused.size() == 1 ? "" : "s") + " that config.json's GPT-2 (n_layer " + config.layers()
                    + ") does not use: " + listed + (unused.size() > MAX_NAMES_LISTED ? ", ..." : "")
                    + "; is config.json the one that came with these weights?");
        }
    }

    /** h.2.x before h.10.x: names in the order a reader expects, layers by number. */
    private static final Comparator<String> BY_LAYER = Comparator.comparingInt(Converter::layerOf)
            .thenComparing(Comparator.naturalOrder());

    private static int layerOf(String name) {
        if (!name.startsWith("h.")) return -1;
        int dot = name.indexOf('.', 2);
        try {
            return Integer.parseInt(name.substring(2, dot < 0 ? name.length() : dot));
        } catch (NumberFormatException e) {
            return Integer.MAX_VALUE;
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

    private static void write(HuggingFaceModel model, GPT2Config config, List<List<Source>> plan, Values values,
                              PrintStream log) {
        long total = config.layout().total(), done = 0;
        for (int t = 0; t < plan.size(); t++) {
            for (Source source : plan.get(t)) {
                Safetensors.Tensor tensor = model.tensor(source.name());
                if (source.conv1d()) {
                    values.transposed(tensor, source.shape()[0], source.shape()[1]);
                } else {
                    values.copy(tensor);
                }
            }
            if (t == WTE) {
                // llm.c pads wte to Vp rows so its matmuls tile evenly; the padding rows are zero.
                values.writer.zeros((long) (config.vocabPadded() - config.vocabSize()) * config.channels());
            }
            long size = config.layout().sizes()[t];
            done += size;
            log.printf(Locale.ROOT, "  %3d%%  %-9s %,15d values%n", Math.round(100.0 * done / total), NAMES[t], size);
        }
    }

    /**
     * Reads each tensor's values in llm.c's order into the writer, refusing NaN and infinities (and, for bf16,
     * values so large that they round to infinity): the engine would turn them into NaN logits, token 0 forever.
     */
    private record Values(CheckpointWriter writer, DType dtype) {
        void copy(Safetensors.Tensor tensor) {
            Safetensors.Encoding encoding = tensor.encoding();
            MemorySegment data = tensor.data();
            for (long i = 0, n = tensor.elements(); i < n; i++) {
                put(tensor, i, encoding.read(data, i));
            }
        }

        /** Writes an [in, out] matrix as [out, in]: row o of the output is column o of the source. */
        void transposed(Safetensors.Tensor tensor, long in, long out) {
            Safetensors.Encoding encoding = tensor.encoding();
            MemorySegment data = tensor.data();
            for (long o = 0; o < out; o++) {
                for (long i = 0; i < in; i++) {
                    put(tensor, i * out + o, encoding.read(data, i * out + o));
                }
            }
        }

        private void put(Safetensors.Tensor tensor, long index, float value) {
            if (!Float.isFinite(value) || (dtype == DType.BF16 && !Float.isFinite(BFloat16.toFloat(BFloat16.round(value))))) {
                throw new TinyLlmException("tensor " + tensor.name() + " in " + tensor.file() + " holds " + value + " at "
                        + coordinates(index, tensor.shape()) + (Float.isFinite(value) ? ", which is infinite in bf16" : "")
                        + ": refusing to convert non-finite weights");
            }
            writer.put(value);
        }

        /** E.g. "[3, 17] (element 161)" for element 161 of a [48, 144] tensor. */
        private static String coordinates(long index, long[] shape) {
            long[] at = new long[shape.length];
            long rest = index;
            for (int d = shape.length - 1; d >= 0; d--) {
                at[d] = rest % shape[d];
                rest /= shape[d];
            }
            return Arrays.toString(at) + " (element " + index + ")";
        }
    }
}
