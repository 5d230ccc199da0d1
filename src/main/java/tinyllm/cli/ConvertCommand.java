package tinyllm.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import tinyllm.TinyLlmException;
import tinyllm.convert.Converter;
import tinyllm.convert.HuggingFaceModel;
import tinyllm.model.DType;

/** {@code tinyllm convert}: a Hugging Face GPT-2 checkpoint into the llm.c checkpoint the engine runs. */
@Command(name = "convert", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Convert a Hugging Face GPT-2 checkpoint into an llm.c checkpoint.",
                "SRC is a folder with config.json plus model.safetensors (or shards",
                "listed in model.safetensors.index.json). The output has the same bytes",
                "llm.c's train_gpt2.py writes."},
        footer = {"", "Examples:", "  tinyllm convert weights/hf/gpt2",
                "  tinyllm convert ~/gpt2-medium/model.safetensors --dtype bf16 --out medium.bin"})
final class ConvertCommand implements Callable<Integer> {

    @Parameters(paramLabel = "SRC", description = "Hugging Face model folder, or a .safetensors file with config.json beside it.")
    Path source;

    @Option(names = "--out", paramLabel = "FILE",
            description = "Where to write. Default for the released shapes: weights/gpt2-124M.bin (-355M, -774M, -1558M),"
                    + " with -bf16 before .bin for bf16; required for any other shape.")
    Path out;

    @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "fp32|bf16",
            description = "Storage type: fp32 (version 3) or bf16 (version 5, rounded to nearest even). Default: ${DEFAULT-VALUE}.")
    String dtype;


    private final PrintStream stdout;

    ConvertCommand(PrintStream stdout) {
        this.stdout = stdout;
    }

    @Override
    public Integer call() {
        DType type = DType.parse(dtype);
        try (HuggingFaceModel model = HuggingFaceModel.open(source)) {
            Path target = out != null ? out : Converter.defaultOutput(Path.of("weights"), model.config(type))
                    .orElseThrow(() -> new TinyLlmException(source + " is not one of the released GPT-2 shapes"
                            + " (124M, 355M, 774M, 1558M), so there is no default name: give --out FILE"));
            Converter.convert(model, target, type, stdout);
        }
        return 0;
    }

}
