package tinyllm.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import tinyllm.TinyLlmException;
import tinyllm.model.GPT2Config;
import tinyllm.tokenizer.GPT2Tokenizer;

/**
 * What a CLI user meets: fresh {@code ./tinyllm generate} processes, timed from exec to exit and from exec
 * to the first step line read through a pipe, for a short prompt and a 900-token prompt (20 new tokens each).
 * Each process is a new JVM, so the figures include JVM start, the CLI, the tokenizer, mapping the weights
 * and the JIT's warm-up: everything the warm bench leaves out on purpose.
 */
public final class ColdStart {
    /** The long case's prompt length: long enough that prefill speed, not start-up, dominates it. */
    public static final int LONG_PROMPT_TOKENS = 900;
    /** New tokens of each case. */
    private static final int NEW_TOKENS = 20;
    private static final Pattern STATS = Pattern.compile(
            "Stats: (\\d+) prompt tokens, (\\d+) new tokens.*\\| load (\\d+) ms \\| warm-up wait (\\d+) ms \\| prompt ([\\d.]+) ms"
                    + " \\| ([\\d.]+|n/a) ms/token");

    /** One process's figures; stats-line times in ms. */
    public record Run(double wallSeconds, double firstStepSeconds, int promptTokens, double loadMs, double warmUpWaitMs,
                      double promptMs, double msPerToken) {
        /**
         * Prompt tokens per second of the time from the tokenized prompt to its logits, the wait for the warm-up
         * to let go of the cores included: that wait is the JIT compiling kernels the prompt runs next.
         */
        double prefillTokensPerSecond() {
            return promptTokens / ((warmUpWaitMs + promptMs) / 1000);
        }
    }

    private final Path launcher;
    private final PrintStream out;

    private ColdStart(Path launcher, PrintStream out) {
        this.launcher = launcher;
        this.out = out;
    }

    /** The launcher script beside the jar this class was loaded from ({@code target/tinyllm.jar} → {@code tinyllm}). */
    public static ColdStart beside(Path jarOrClasses, PrintStream out) {
        Path launcher = jarOrClasses.toAbsolutePath().getParent().getParent().resolve("tinyllm");
        if (!Files.isExecutable(launcher)) {
            throw new TinyLlmException("bench --cold spawns the launcher, and there is none at " + launcher
                    + ": run it from a checkout (./tinyllm bench --cold)");
        }
        return new ColdStart(launcher, out);
    }

    public static Path codeLocation() {
        try {
            return Path.of(ColdStart.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new TinyLlmException("cannot tell where tinyllm was loaded from: " + e.getMessage(), e);
        }
    }

    /**
     * Runs both cases {@code runs} times each and prints every run and the medians. A model whose context
     * ({@code config}'s) cannot hold the long case gets the short one and a note saying why the long one is missing:
     * its start-up figures are still worth having, and in a run of several models the others still get both.
     */
    public void measure(Path model, GPT2Config config, int runs, Path scratch) {
        out.println("cold start: fresh ./tinyllm processes, stdout a pipe; median of " + runs);
        out.printf(Locale.ROOT, "  %-12s wall %.2f s%n", "--version", median(time(List.of("--version"), runs)));
        report("short", case_(runs, List.of("generate", "--model", model.toString(), "--text", "Once upon a time",
                "--max-length", String.valueOf(NEW_TOKENS), "--show-steps")));
        if (!config.fits(LONG_PROMPT_TOKENS, NEW_TOKENS)) {
            out.printf(Locale.ROOT, "  %-12s skipped: %d prompt tokens + %d new do not fit %s's context of %d tokens%n", "900-token",
                    LONG_PROMPT_TOKENS, NEW_TOKENS, model.getFileName(), config.maxSeqLen());
            return;
        }
        Path longPrompt = writeLongPrompt(scratch);
        report("900-token", case_(runs, List.of("generate", "--model", model.toString(), "--prompt-file",
                longPrompt.toString(), "--max-length", String.valueOf(NEW_TOKENS), "--show-steps")));
    }

    private List<Run> case_(int runs, List<String> args) {
        List<Run> all = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            all.add(run(args));
        }
        return all;
    }

    private void report(String name, List<Run> runs) {
        for (Run r : runs) {
            out.printf(Locale.ROOT, "  %-12s wall %.2f s, first step %.2f s | load %.0f ms, warm-up wait %.0f ms, prompt %.0f ms"
                            + " (%.0f tokens/s with the wait), %.2f ms/token%n",
                    name, r.wallSeconds, r.firstStepSeconds, r.loadMs, r.warmUpWaitMs, r.promptMs, r.prefillTokensPerSecond(), r.msPerToken);
        }
        out.printf(Locale.ROOT, "  %-12s MEDIAN wall %.2f s, first step %.2f s, prefill %.0f tokens/s, %.2f ms/token%n", name,
                median(runs, Run::wallSeconds), median(runs, Run::firstStepSeconds),
                median(runs, Run::prefillTokensPerSecond), median(runs, Run::msPerToken));
    }

    /** One process: exec to exit, exec to the first "Step 1:" line, and the stats line. */
    private Run run(List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(launcher.toString());
        command.addAll(args);
        long start = System.nanoTime();
        double firstStep = Double.NaN;
        String stats = null;
        try {
            Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = lines.readLine()) != null; ) {
                    if (Double.isNaN(firstStep) && line.startsWith("Step 1:")) firstStep = (System.nanoTime() - start) / 1e9;
                    if (line.startsWith("Stats:")) stats = line;
                }
            }
            int code = process.waitFor();
            double wall = (System.nanoTime() - start) / 1e9;
            Matcher m = stats == null ? null : STATS.matcher(stats);
            if (code != 0 || m == null || !m.find()) {
                throw new TinyLlmException("bench --cold: " + String.join(" ", args) + " exited " + code
                        + (stats == null ? " without a stats line" : " with an unreadable stats line: " + stats));
            }
            return new Run(wall, firstStep, Integer.parseInt(m.group(1)), Double.parseDouble(m.group(3)),
                    Double.parseDouble(m.group(4)), Double.parseDouble(m.group(5)),
                    m.group(6).equals("n/a") ? Double.NaN : Double.parseDouble(m.group(6)));
        } catch (IOException e) {
            throw new TinyLlmException("bench --cold cannot start " + launcher + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TinyLlmException("bench --cold interrupted", e);
        }
    }

    private double[] time(List<String> args, int runs) {
        double[] walls = new double[runs];
        for (int i = 0; i < runs; i++) {
            List<String> command = new ArrayList<>();
            command.add(launcher.toString());
            command.addAll(args);
            long start = System.nanoTime();
            try {
                new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                        .redirectError(ProcessBuilder.Redirect.DISCARD).start().waitFor();
            } catch (IOException e) {
                throw new TinyLlmException("bench --cold cannot start " + launcher + ": " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new TinyLlmException("bench --cold interrupted", e);
            }
            walls[i] = (System.nanoTime() - start) / 1e9;
        }
        return walls;
    }

    /** A prompt of exactly {@link #LONG_PROMPT_TOKENS} tokens of plain English words, the same every run. */
    private static Path writeLongPrompt(Path scratch) {
        String[] words = ("the quick brown fox jumps over a lazy dog while seven tired sailors sing about distant "
                + "harbours and cold winds that bend the tall grass near old stone walls").split(" ");
        StringBuilder text = new StringBuilder();
        for (int i = 0; text.length() < 8 * LONG_PROMPT_TOKENS; i++) {
            text.append(i == 0 ? "" : " ").append(words[(i * 7) % words.length]);
        }
        GPT2Tokenizer tokenizer = new GPT2Tokenizer();
        int[] tokens = Arrays.copyOf(tokenizer.encode(text.toString()), LONG_PROMPT_TOKENS);
        Path file = scratch.resolve("cold-prompt-" + LONG_PROMPT_TOKENS + ".txt");
        try {
            Files.createDirectories(scratch);
            Files.writeString(file, tokenizer.decode(tokens));
        } catch (IOException e) {
            throw TinyLlmException.io("cannot write", file, e);
        }
        return file;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static double median(List<Run> runs, ToDoubleFunction<Run> figure) {
        return median(runs.stream().mapToDouble(figure).toArray());
    }
}
