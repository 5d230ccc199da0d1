package tinyllm.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.SyntheticCheckpoint;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

/** {@code tinyllm synthetic}: a random-weight checkpoint of a real GPT-2 shape, for runs without downloads. */
@Command(name = "synthetic", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Write an llm.c checkpoint of random weights of a real GPT-2 shape.",
                "Give a named shape or explicit dimensions.",
                "Its text is gibberish; its speed is that of the real model."},
        footer = {"", "Examples:", "  tinyllm synthetic --shape 124M --out weights/synthetic-124M.bin",
                "  tinyllm synthetic --layers 2 --heads 4 --channels 48 --vocab 500 --max-seq 64 --out tiny.bin"})
final class SyntheticCommand implements Callable<Integer> {

    @ArgGroup(exclusive = true, multiplicity = "1")
    Shape shape;

    static final class Shape {
        @Option(names = "--shape", paramLabel = "NAME", description = "124M, 355M, 774M or 1558M (GPT-2 small to XL).")
        String name;

        @ArgGroup(exclusive = false)
        Dimensions dimensions;
    }

    static final class Dimensions {
        @Option(names = "--layers", required = true, paramLabel = "L") int layers;
        @Option(names = "--heads", required = true, paramLabel = "NH") int heads;
        @Option(names = "--channels", required = true, paramLabel = "C") int channels;
        @Option(names = "--vocab", paramLabel = "V", defaultValue = "50257", description = "Default: ${DEFAULT-VALUE}.") int vocab;
        @Option(names = "--max-seq", paramLabel = "T", defaultValue = "1024", description = "Context length. Default: ${DEFAULT-VALUE}.") int maxSeq;
    }

    @Option(names = "--out", paramLabel = "FILE", description = "Where to write (default: weights/synthetic-<shape>.bin, -bf16.bin or -q8.bin).")
    Path out;

    @Option(names = "--seed", defaultValue = "1", description = "Random seed; the same seed writes the same file (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "TYPE",
            description = "Storage type: fp32, bf16 or q8 (default: ${DEFAULT-VALUE}).")
    String dtype;


    private final PrintStream stdout;

    SyntheticCommand(PrintStream stdout) {
        this.stdout = stdout;
    }

    @Override
    public Integer call() {
        DType type = DType.parse(dtype);
        GPT2Config config;
        String label;
        if (shape.name != null) {
            config = GPT2Config.named(shape.name, type);
            label = shape.name;
        } else {
            Dimensions d = shape.dimensions;
            if (d.vocab <= 0) {
                throw new TinyLlmException("--vocab must be positive, got " + d.vocab);
            }
            config = new GPT2Config(d.maxSeq, d.vocab, GPT2Config.padVocab(d.vocab), d.layers, d.heads, d.channels, type);
            label = "L" + d.layers + "-NH" + d.heads + "-C" + d.channels + "-V" + d.vocab + "-T" + d.maxSeq;
        }
        Path target = out != null ? out : Path.of("weights", "synthetic-" + label + type.fileSuffix() + ".bin");
        long start = System.nanoTime();
        SyntheticCheckpoint.write(target, config, seed);
        stdout.printf(Locale.ROOT, "wrote %s: %s, L=%d NH=%d C=%d V=%d (Vp=%d) maxT=%d, seed %d, in %.1f s%n",
                target, type.label(), config.layers(), config.heads(), config.channels(),
                config.vocabSize(), config.vocabPadded(), config.maxSeqLen(), seed, (System.nanoTime() - start) / 1e9);
        return 0;
    }
}
