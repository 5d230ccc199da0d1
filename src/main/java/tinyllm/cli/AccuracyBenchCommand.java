package tinyllm.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import tinyllm.TinyLlmException;
import tinyllm.api.Model;
import tinyllm.bench.Accuracy;
import tinyllm.tokenizer.GPT2Tokenizer;

/** {@code tinyllm bench accuracy}: a model's logits against a reference model's, teacher-forced. */
@Command(name = "accuracy", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Compare a model's logits with a reference model's, teacher-forced.",
                "Feeds both the same tokens one at a time and reports the relative RMS",
                "error of the logits, sqrt(sum (m - r)^2 / sum r^2), and the share of",
                "positions where both choose the same next token: what a q8 or bf16",
                "file costs against the fp32 one it was converted from."},
        footer = {"", "Example:",
                "  tinyllm convert weights/gpt2-124M.bin --dtype q8",
                "  tinyllm bench accuracy --model weights/gpt2-124M-q8.bin --reference weights/gpt2-124M.bin"})
final class AccuracyBenchCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "FILE", required = true, description = "Checkpoint to measure.")
    Path model;

    @Option(names = "--reference", paramLabel = "FILE", required = true, description = "Checkpoint of the same shape to compare with (usually fp32).")
    Path reference;

    @Option(names = "--tokens", paramLabel = "N", defaultValue = "1000",
            description = "Positions to compare, at most the context (default: ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = "--prompt-file", paramLabel = "FILE",
            description = "Feed this text's tokens (its first N); default: N tokens drawn at random from the vocabulary with --seed.")
    Path promptFile;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the random tokens (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    ThreadsOption threads = new ThreadsOption();

    private final PrintStream out;

    AccuracyBenchCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() {
        if (tokens < 1) throw new TinyLlmException("--tokens must be at least 1, got " + tokens);
        try (Model ref = Model.open(reference, threads.count()); Model candidate = Model.open(model, threads.count())) {
            int[] sequence = sequence(ref.config().vocabSize(), Math.min(tokens, ref.config().maxSeqLen()));
            long start = System.nanoTime();
            Accuracy a = Accuracy.teacherForced(ref, candidate, sequence);
            out.printf(Locale.ROOT, "%s (%s) against %s (%s), teacher-forced over %d %s tokens (%.1f s):%n",
                    model.getFileName(), candidate.config().dtype().label(), reference.getFileName(), ref.config().dtype().label(),
                    a.positions(), promptFile != null ? "text" : "random", (System.nanoTime() - start) / 1e9);
            out.printf(Locale.ROOT, "  relative RMS error of the logits   %.4f%n", a.relativeRms());
            out.printf(Locale.ROOT, "  same greedy next token             %.1f %% of positions%n", 100 * a.argmaxAgreement());
            out.printf(Locale.ROOT, "  largest logit difference           %.4f%n", a.maxAbsError());
        }
        return 0;
    }

    private int[] sequence(int vocab, int n) {
        if (promptFile == null) {
            SplittableRandom random = new SplittableRandom(seed);
            int[] ids = new int[n];
            for (int i = 0; i < n; i++) ids[i] = random.nextInt(vocab);
            return ids;
        }
        try {
            int[] ids = new GPT2Tokenizer().encode(Files.readString(promptFile, StandardCharsets.UTF_8));
            if (ids.length == 0) throw new TinyLlmException(promptFile + " holds no text");
            return java.util.Arrays.copyOf(ids, Math.min(n, ids.length));
        } catch (IOException e) {
            throw TinyLlmException.io("cannot read", promptFile, e);
        }
    }
}
