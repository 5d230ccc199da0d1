package tinyllm.cli;

import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import tinyllm.TinyLlmException;
import tinyllm.convert.Converter;
import tinyllm.convert.Downloader;
import tinyllm.convert.HuggingFaceModel;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

/** {@code tinyllm download}: fetch a released GPT-2 from the Hugging Face hub and convert it. */
@Command(name = "download", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Download GPT-2 from the Hugging Face hub and convert it.",
                "Fetches config.json and model.safetensors of openai-community/NAME",
                "into DIR/hf/NAME, resuming a partial download, then converts them to",
                "DIR/gpt2-<size>.bin (gpt2-<size>-bf16.bin, -q8.bin with --dtype bf16, q8).",
                "Set HF_ENDPOINT to download from a mirror of the hub."},
        footer = {"", "Examples:", "  tinyllm download gpt2", "  tinyllm download gpt2-xl --dtype bf16", "  tinyllm download gpt2 --dtype q8"})
final class DownloadCommand implements Callable<Integer> {

    @Parameters(paramLabel = "NAME", description = "gpt2 (124M), gpt2-medium (355M), gpt2-large (774M) or gpt2-xl (1558M).")
    String name;

    @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "fp32|bf16|q8",
            description = "Storage type of the converted checkpoint: fp32, bf16, or q8 (int8 matrices with a scale"
                    + " per block of 32). Default: ${DEFAULT-VALUE}.")
    String dtype;

    @Option(names = "--dir", defaultValue = "weights", paramLabel = "DIR", description = "Default: ${DEFAULT-VALUE}.")
    Path dir;


    private final PrintStream out;
    private final Terminal terminal;

    DownloadCommand(PrintStream out, Terminal terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    @Override
    public Integer call() {
        if (!Downloader.MODELS.contains(name)) {
            throw new TinyLlmException("unknown model '" + name + "': use " + String.join(", ", Downloader.MODELS));
        }
        Path checkpoint = fetch(name, DType.parse(dtype), dir, null, out, terminal.colour());
        out.println("run it: ./tinyllm generate --model " + checkpoint + " --text \"Once upon a time\"");
        return 0;
    }

    /**
     * Downloads {@code name} into DIR/hf/NAME and converts it to DIR/gpt2-SIZE.bin (what {@code download} does,
     * and {@code generate} on a first run); returns the checkpoint. {@code hub} null: huggingface.co or HF_ENDPOINT.
     */
    static Path fetch(String name, DType type, Path dir, URI hub, PrintStream out, boolean interactive) {
        Path folder = dir.resolve("hf").resolve(name);
        Path checkpoint = Converter.defaultOutput(dir, GPT2Config.named(name, type)).orElseThrow();
        (hub == null ? new Downloader(out, interactive) : new Downloader(hub, out, interactive)).download(name, folder, checkpoint);
        try (HuggingFaceModel model = HuggingFaceModel.open(folder)) {
            Converter.convert(model, checkpoint, type, out);
        }
        return checkpoint;
    }
}
