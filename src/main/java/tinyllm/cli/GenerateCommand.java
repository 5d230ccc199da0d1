package tinyllm.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help.Ansi.Style;
import picocli.CommandLine.Option;

import tinyllm.TinyLlmException;
import tinyllm.api.Generator;
import tinyllm.api.Greedy;
import tinyllm.api.Model;
import tinyllm.api.Session;
import tinyllm.tokenizer.GPT2Tokenizer;

/** {@code tinyllm generate}: continue a prompt greedily and say how long it took. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Continue a prompt with GPT-2, greedily (always the most likely next token)."},
        footer = {"", "Example:", "  tinyllm generate --text \"Once upon a time\" --max-length 20 --show-steps"})
final class GenerateCommand implements Callable<Integer> {
    static final String DEFAULT_MODEL = "weights/gpt2-124M.bin";

    @Option(names = "--model", paramLabel = "FILE", defaultValue = DEFAULT_MODEL,
            description = "llm.c checkpoint to run (default: ${DEFAULT-VALUE}).")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Prompt prompt;

    static final class Prompt {
        @Option(names = "--text", paramLabel = "TEXT", description = "Prompt text, encoded with GPT-2's tokenizer.")
        String text;

        @Option(names = "--tokens", paramLabel = "IDS", split = ",", description = "Prompt as token ids, e.g. 7454,2402,257,640.")
        int[] tokens;
    }

    @Option(names = "--max-length", paramLabel = "N", defaultValue = "20",
            description = "Number of new tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxLength;

    @Option(names = "--show-steps", description = "Print each new token as it is chosen: Step 1: Generated token 11 → ','")
    boolean showSteps;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all available processors).")
    Integer threads;

    @Option(names = "--stats-json", paramLabel = "FILE", description = "Also write the timings to FILE as JSON.")
    Path statsJson;

    @Option(names = "--verbose", description = "Print stack traces with errors.")
    boolean verbose;

    private final PrintStream out;
    private final Terminal terminal;

    GenerateCommand(PrintStream out, Terminal terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    @Override
    public Integer call() {
        if (maxLength < 1) {
            throw new TinyLlmException("--max-length must be at least 1, got " + maxLength);
        }
        int threadCount = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        GPT2Tokenizer tokenizer = new GPT2Tokenizer();
        int[] promptTokens = prompt.tokens != null ? prompt.tokens : tokenizer.encode(prompt.text);
        if (promptTokens.length == 0) {
            throw new TinyLlmException("the prompt is empty: give --text with some text or --tokens with at least one id");
        }

        if (model.equals(Path.of(DEFAULT_MODEL)) && !Files.exists(model)) {
            throw new TinyLlmException("no model at " + DEFAULT_MODEL + ": get GPT-2 with ./tinyllm download gpt2 (needs internet), "
                    + "or pass --model FILE (./tinyllm synthetic --shape 124M writes a random one)");
        }
        long loadStart = System.nanoTime();
        try (Model m = Model.open(model, threadCount); Session session = m.newSession()) {
            long loadNanos = System.nanoTime() - loadStart;
            Generator generator = new Generator(new Greedy());
            int[] generated = new int[maxLength];
            Generator.Timing timing = generator.generate(session, promptTokens, generated, (step, token) -> {
                if (showSteps) {
                    out.println("Step " + (step + 1) + ": Generated token " + token + " → '" + tokenizer.display(token) + "'");
                }
            });
            if (showSteps) {
                out.println();
            }
            out.println(styled("Prompt:    ", Style.bold) + styled(tokenizer.decode(promptTokens), Style.faint));
            out.println(styled("Generated: ", Style.bold) + styled(tokenizer.decode(generated), Style.fg_green));
            out.println(stats(promptTokens.length, maxLength, generator.chooser().describe(), loadNanos, timing, m.threads()));
            if (statsJson != null) {
                writeStatsJson(statsJson, promptTokens.length, maxLength, loadNanos, timing, m);
            }
        }
        return 0;
    }

    private String styled(String text, Style style) {
        return terminal.colour() ? style.on() + text + style.off() + Style.reset.on() : text;
    }

    /** The stats line's figures for scripts; rates are null where there was nothing to time. */
    static void writeStatsJson(Path file, int promptTokens, int newTokens, long loadNanos, Generator.Timing t, Model m) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("prompt_tokens", promptTokens);
        json.put("new_tokens", newTokens);
        json.put("load_ms", loadNanos / 1e6);
        json.put("prefill_ms", t.prefillNanos() / 1e6);
        json.put("decode_ms", t.decodeNanos() / 1e6);
        json.put("decode_steps", t.decodeSteps());
        json.put("prefill_tokens_per_s", promptTokens / (t.prefillNanos() / 1e9));
        json.put("decode_tokens_per_s", t.decodeSteps() == 0 ? null : t.decodeSteps() / (t.decodeNanos() / 1e9));
        json.put("threads", m.threads());
        json.put("weights_bytes_per_token", m.config().weightBytesPerToken());
        try {
            if (file.getParent() != null) Files.createDirectories(file.getParent());
            Files.writeString(file, new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(json));
        } catch (IOException e) {
            throw new TinyLlmException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    static String stats(int promptTokens, int newTokens, String method, long loadNanos, Generator.Timing t, int threads) {
        double perToken = t.decodeSteps() == 0 ? Double.NaN : t.decodeNanos() / 1e6 / t.decodeSteps();
        return String.format(Locale.ROOT,
                "Stats: %d prompt tokens, %d new tokens, %s, %d threads | load %.0f ms | prompt %.1f ms | %s ms/token | %s tokens/s",
                promptTokens, newTokens, method, threads, loadNanos / 1e6, t.prefillNanos() / 1e6,
                t.decodeSteps() == 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", perToken),
                t.decodeSteps() == 0 ? "n/a" : String.format(Locale.ROOT, "%.1f", 1000 / perToken));
    }
}
