package tinyllm.convert;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

/**
 * A Hugging Face GPT-2 checkpoint, mapped read-only: config.json next to model.safetensors, or next to
 * shards listed in model.safetensors.index.json. Tensors are named without the optional
 * {@code transformer.} prefix, which GPT2LMHeadModel writes and GPT2Model does not.
 */
public final class HuggingFaceModel implements AutoCloseable {
    static final String PREFIX = "transformer.";
    static final String CONFIG = "config.json", SINGLE_FILE = "model.safetensors", INDEX = "model.safetensors.index.json";

    /** config.json's dimensions, in the names of the shared shape validation's messages. */
    private static final Checkpoint.Fields CONFIG_FIELDS = new Checkpoint.Fields(
            "n_positions", "vocab_size", "n_layer", "n_head", "n_embd", "padded vocab_size", "q8 block");

    private final Path source;
    private final List<Path> inputs;
    private final GPT2Config shape;
    private final Map<String, Safetensors.Tensor> tensors;
    private final Arena arena;

    private HuggingFaceModel(Path source, List<Path> inputs, GPT2Config shape, Map<String, Safetensors.Tensor> tensors,
                             Arena arena) {
        this.source = source;
        this.inputs = inputs;
        this.shape = shape;
        this.tensors = tensors;
        this.arena = arena;
    }

    /**
     * Opens a model folder, or a single .safetensors file with config.json beside it, checking
     * config.json and every safetensors header.
     */
    public static HuggingFaceModel open(Path source) {
        Path folder = folderOf(source);
        Path configFile = folder.resolve(CONFIG);
        GPT2Config shape = config(configFile, readConfigFile(configFile));
        List<Path> inputs = new ArrayList<>(List.of(configFile));
        List<Path> files = Files.isDirectory(source) ? weightFiles(folder, inputs) : List.of(source);
        inputs.addAll(files);
        Arena arena = Arena.ofConfined();
        try {
            List<Map<String, Safetensors.Tensor>> perFile = new ArrayList<>();
            for (Path file : files) {
                perFile.add(Safetensors.open(file, arena));
            }
            return new HuggingFaceModel(source, List.copyOf(inputs), shape, byName(source, perFile), arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * The model of one config.json and one safetensors file held in memory, checked exactly as {@link #open}
     * checks files: what the fuzz tests feed with arbitrary bytes.
     */
    static HuggingFaceModel of(Path source, byte[] configJson, MemorySegment safetensors) {
        GPT2Config shape = config(source.resolveSibling(CONFIG), configJson);
        Map<String, Safetensors.Tensor> tensors = byName(source, List.of(Safetensors.parse(source, safetensors)));
        return new HuggingFaceModel(source, List.of(), shape, tensors, Arena.ofConfined());
    }

    /** Tensors named without the optional prefix; a name that appears twice is refused. */
    private static Map<String, Safetensors.Tensor> byName(Path source, List<Map<String, Safetensors.Tensor>> perFile) {
        Map<String, Safetensors.Tensor> tensors = new HashMap<>();
        for (Map<String, Safetensors.Tensor> file : perFile) {
            for (Safetensors.Tensor tensor : file.values()) {
                String name = tensor.name().startsWith(PREFIX) ? tensor.name().substring(PREFIX.length()) : tensor.name();
                if (tensors.putIfAbsent(name, tensor) != null) {
                    throw new TinyLlmException("tensor " + name + " appears twice in " + source
                            + " (with and without the '" + PREFIX + "' prefix, or in two shards)");
                }
            }
        }
        return tensors;
    }

    public Path source() {
        return source;
    }

    /** The model's shape from config.json, to be stored as {@code dtype}. */
    public GPT2Config config(DType dtype) {
        return new GPT2Config(shape.maxSeqLen(), shape.vocabSize(), shape.vocabPadded(), shape.layers(),
                shape.heads(), shape.channels(), dtype);
    }

    /** The tensor of that name (without prefix), or null when the checkpoint has none. */
    Safetensors.Tensor tensor(String name) {
        return tensors.get(name);
    }

    /** The names of all its tensors (without prefix). */
    Set<String> tensorNames() {
        return tensors.keySet();
    }

    /** The files it was read from: config.json, the index if any, the safetensors file(s). */
    List<Path> inputs() {
        return inputs;
    }

    /** Unmaps the files: tensors read before closing must not be used after. */
    @Override
    public void close() {
        arena.close();
    }

    private static Path folderOf(Path source) {
        if (Files.isDirectory(source)) {
            return source;
        }
        if (!Files.isRegularFile(source)) {
            throw new TinyLlmException(source + " not found: give a Hugging Face model folder (config.json and "
                    + SINGLE_FILE + ") or a .safetensors file with config.json beside it");
        }
        if (!source.getFileName().toString().endsWith(".safetensors")) {
            throw new TinyLlmException(source + " is not a .safetensors file: give a Hugging Face model folder"
                    + " or a .safetensors file with config.json beside it");
        }
        return source.toAbsolutePath().getParent();
    }

    /**
     * The single file when there is one, as transformers prefers it; otherwise the shards of the index
     * (which joins {@code inputs}).
     */
    private static List<Path> weightFiles(Path folder, List<Path> inputs) {
        if (Files.isRegularFile(folder.resolve(SINGLE_FILE))) {
            return List.of(folder.resolve(SINGLE_FILE));
        }
        Path index = folder.resolve(INDEX);
        if (!Files.isRegularFile(index)) {
            throw new TinyLlmException("no " + SINGLE_FILE + " or " + INDEX + " in " + folder
                    + ": tinyllm converts safetensors checkpoints");
        }
        inputs.add(index);
        JsonNode weightMap = readJson(index).path("weight_map");
        if (!weightMap.isObject() || weightMap.isEmpty()) {
            throw new TinyLlmException(index + " has no weight_map listing the shards");
        }
        Set<Path> shards = new LinkedHashSet<>();
        for (JsonNode file : weightMap) {
            shards.add(folder.resolve(file.asText()));
        }
        for (Path shard : shards) {
            if (!Files.isRegularFile(shard)) {
                throw new TinyLlmException("shard " + shard.getFileName() + " listed in " + index + " is missing");
            }
        }
        return List.copyOf(shards);
    }

    private static byte[] readConfigFile(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new TinyLlmException("no " + CONFIG + " in " + file.getParent()
                    + ": a Hugging Face model folder holds config.json next to the safetensors file(s)");
        }
        return readBytes(file);
    }

    /**
     * The parts of config.json llm.c's header needs, after refusing models whose arithmetic differs from GPT-2's
     * and validating the shape as a checkpoint header is validated, before anything is planned from it.
     */
    private static GPT2Config config(Path file, byte[] bytes) {
        JsonNode json = parseJson(file, bytes);
        String type = json.path("model_type").asText("");
        if (!type.equals("gpt2")) {
            throw new TinyLlmException(file + " has model_type '" + type + "': tinyllm converts GPT-2 (model_type gpt2) only");
        }
        // The engine's layernorm and GELU are GPT-2's; a model trained with others would run, and be wrong.
        JsonNode epsilon = json.get("layer_norm_epsilon");
        if (epsilon != null && epsilon.asDouble() != 1e-5) {
            throw new TinyLlmException(file + " has layer_norm_epsilon " + epsilon.asText()
                    + ": tinyllm's layernorm uses GPT-2's 1e-5");
        }
        String activation = json.path("activation_function").asText("gelu_new");
        if (!activation.equals("gelu_new") && !activation.equals("gelu_pytorch_tanh")) {
            throw new TinyLlmException(file + " has activation_function '" + activation
                    + "': tinyllm computes GPT-2's tanh GELU (gelu_new)");
        }
        int maxT = positive(file, json, "n_positions"), vocab = positive(file, json, "vocab_size");
        int layers = positive(file, json, "n_layer"), heads = positive(file, json, "n_head"), channels = positive(file, json, "n_embd");
        GPT2Config config = new GPT2Config(maxT, vocab, GPT2Config.padVocab(vocab), layers, heads, channels, DType.FP32);
        Checkpoint.validate(config, "invalid shape in " + file, CONFIG_FIELDS);
        return config;
    }

    private static int positive(Path file, JsonNode json, String key) {
        JsonNode value = json.get(key);
        if (value == null || !value.canConvertToInt() || !value.canConvertToExactIntegral() || value.asInt() <= 0) {
            throw new TinyLlmException(file + " needs a positive integer " + key + ", has " + value);
        }
        return value.asInt();
    }

    private static JsonNode readJson(Path file) {
        return parseJson(file, readBytes(file));
    }

    private static JsonNode parseJson(Path file, byte[] bytes) {
        try {
            JsonNode json = Safetensors.JSON.readTree(bytes);
            if (json == null || !json.isObject()) {
                throw new TinyLlmException(file + " is not a JSON object");
            }
            return json;
        } catch (JacksonException e) {
            throw new TinyLlmException(file + " is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new TinyLlmException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static byte[] readBytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new TinyLlmException(file + " not found");
        } catch (IOException e) {
            throw TinyLlmException.io("cannot read", file, e);
        }
    }
}
