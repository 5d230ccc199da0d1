package tinyllm.cli;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.convert.Converter;
import tinyllm.convert.HuggingFaceModel;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

/** {@code tinyllm convert}: a Hugging Face GPT-2 checkpoint into the llm.c checkpoint the engine runs. */
@Command(name = "convert", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Convert a Hugging Face GPT-2 checkpoint into an llm.c checkpoint,",
                "or an llm.c checkpoint into another storage type.",
                "SRC is a folder with config.json plus model.safetensors (or shards",
                "listed in model.safetensors.index.json), or an llm.c .bin file. For fp32",
                "and bf16 the output has the same bytes llm.c's train_gpt2.py writes;",
                "q8 stores each matrix as int8 with an fp32 scale per block of 32."},
        footer = {"", "Examples:", "  tinyllm convert weights/hf/gpt2",
                "  tinyllm convert ~/gpt2-medium/model.safetensors --dtype bf16 --out medium.bin",
                "  tinyllm convert weights/gpt2-124M.bin --dtype q8"})
final class ConvertCommand implements Callable<Integer> {

    @Parameters(paramLabel = "SRC", description = "Hugging Face model folder, a .safetensors file with config.json beside it,"
            + " or an llm.c checkpoint (.bin).")
    Path source;

    @Option(names = "--out", paramLabel = "FILE",
            description = "Where to write. Default for the released shapes: weights/gpt2-124M.bin (-355M, -774M, -1558M),"
                    + " with -bf16 or -q8 before .bin for those types; required for any other shape.")
    Path out;

    @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "fp32|bf16|q8",
            description = "Storage type: fp32 (version 3), bf16 (version 5, rounded to nearest even) or q8 (version 8:"
                    + " int8 matrices, rounded to nearest in steps of each block's absmax / 127). Default: ${DEFAULT-VALUE}.")
    String dtype;


    private final PrintStream stdout;

    ConvertCommand(PrintStream stdout) {
        this.stdout = stdout;
    }

    @Override
    public Integer call() {
        DType type = DType.parse(dtype);
        if (Checkpoint.isCheckpoint(source)) {
            try (Arena arena = Arena.ofConfined()) {
                Checkpoint checkpoint = Checkpoint.open(source, arena);
                if (checkpoint.config().dtype() == type) {
                    throw new TinyLlmException(source + " is already " + type.label() + ": nothing to convert");
                }
                Converter.convert(checkpoint, target(checkpoint.config().withDType(type)), type, stdout);
            }
            return 0;
        }
        try (HuggingFaceModel model = HuggingFaceModel.open(source)) {
            Converter.convert(model, target(model.config(type)), type, stdout);
        }
        return 0;
    }

    private Path target(GPT2Config config) {
        return out != null ? out : Converter.defaultOutput(Path.of("weights"), config)
                .orElseThrow(() -> new TinyLlmException(source + " is not one of the released GPT-2 shapes"
                        + " (124M, 355M, 774M, 1558M), so there is no default name: give --out FILE"));
    }

}
