package tinyllm.cli;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help.Ansi.Style;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import tinyllm.TinyLlmException;
import tinyllm.api.Generator;
import tinyllm.api.Greedy;
import tinyllm.api.Model;
import tinyllm.api.Sampler;
import tinyllm.api.Session;
import tinyllm.api.TokenChooser;
import tinyllm.api.WarmUp;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;
import tinyllm.tokenizer.GPT2Tokenizer;

/** {@code tinyllm generate}: continue a prompt, streaming the text, and say how long it took. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Continue a prompt with GPT-2, streaming the text.",
                "Greedy (always the most likely next token) unless --temperature,",
                "--top-k or --top-p is given."},
        footer = {"", "Examples:", "  tinyllm generate --text \"Once upon a time\" --max-length 20 --show-steps",
                "  tinyllm generate --prompt-file story.txt --truncate --temperature 0.8 --top-p 0.95 --seed 1",
                "  cat notes.txt | tinyllm generate --prompt-file - --stop \"\\n\\n\""})
final class GenerateCommand implements Callable<Integer> {
    static final String DEFAULT_MODEL = "weights/gpt2-124M.bin";

    @Option(names = "--model", paramLabel = "FILE",
            description = "llm.c checkpoint to run, fp32, bf16 or q8 (default: " + DEFAULT_MODEL + "; missing, it is offered for download).")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Prompt prompt;

    static final class Prompt {
        @Option(names = "--text", paramLabel = "TEXT", description = "Prompt text, encoded with GPT-2's tokenizer.")
        String text;

        @Option(names = "--prompt-file", paramLabel = "FILE", description = "Prompt text from a UTF-8 file; - reads standard input.")
        String file;

        @Option(names = "--tokens", paramLabel = "IDS", split = ",", description = "Prompt as token ids, e.g. 7454,2402,257,640.")
        int[] tokens;
    }

    @Option(names = "--max-length", paramLabel = "N", defaultValue = "20",
            description = "Most new tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxLength;

    @Option(names = "--truncate", description = "If prompt + new tokens exceed the context, keep only the prompt's last tokens that fit.")
    boolean truncate;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0",
            description = "Sample with this temperature; 0 is greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "0", description = "Sample among the K most likely tokens only; 0 is off.")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "1", description = "Sample within the smallest set of tokens of total probability P; 1 is off.")
    float topP;

    @Option(names = "--seed", paramLabel = "N", description = "Sampling seed: the same seed gives the same text (default: random, printed in the stats).")
    Long seed;

    @Option(names = "--stop", paramLabel = "TEXT", description = "Stop once the text ends with TEXT (repeatable; \\n is a newline).")
    List<String> stops = new ArrayList<>();

    @Option(names = "--ignore-eot", description = "Keep going past GPT-2's end-of-text token instead of stopping there.")
    boolean ignoreEndOfText;

    @Option(names = "--show-steps", description = "Print each new token as it is chosen: Step 1: Generated token 11 → ','")
    boolean showSteps;

    @Mixin
    ThreadsOption threads = new ThreadsOption();

    @Option(names = "--stats-json", paramLabel = "FILE", description = "Also write the timings to FILE as JSON.")
    Path statsJson;

    @Mixin
    MappingOption mapping = new MappingOption();


    private final PrintStream out;
    private final PrintStream err;
    private final Terminal terminal;
    private final Path defaultModel;
    private final URI hub;
    private WarmUp early;
    private long mismatchedWarmUpNanos;

    /** @param defaultModel the checkpoint without --model; @param hub where a first run downloads it from (null: the real hub) */
    GenerateCommand(PrintStream out, PrintStream err, Terminal terminal, Path defaultModel, URI hub, WarmUp early) {
        this.early = early;
        this.out = out;
        this.err = err;
        this.terminal = terminal;
        this.defaultModel = defaultModel;
        this.hub = hub;
    }

    @Override
    public Integer call() {
        if (maxLength < 1) {
            throw new TinyLlmException("--max-length must be at least 1, got " + maxLength);
        }
        if (statsJson != null) {
            requireWritableFile(statsJson);
        }
        int threadCount = threads.count();
        Path model = this.model != null ? this.model : defaultModel;
        if (this.model == null && !Files.exists(model)) {
            firstRun(model);
        }

        long loadStart = System.nanoTime();
        // The model first (a header check and a mapping: milliseconds): the kernels warm up for its storage type on
        // another core (main's early warm-up if it guessed the type, else one started now) while the tokenizer
        // loads and the prompt is read.
        try (Model m = Model.open(model, threadCount, mapping.map()); WarmUp warmUp = warmUpFor(m.config().dtype())) {
            long openNanos = System.nanoTime() - loadStart - mismatchedWarmUpNanos;
            GPT2Config config = m.config();
            if (!config.fits(1, maxLength)) {
                throw new TinyLlmException("--max-length " + maxLength + " leaves no room for a prompt in the model's context of "
                        + config.maxSeqLen() + " tokens (at most " + config.maxSeqLen() + " new tokens)");
            }
            GPT2Tokenizer tokenizer = new GPT2Tokenizer();
            int[] promptTokens = fitToContext(promptTokens(tokenizer, config), config);
            Generator generator = new Generator(chooser(config.vocabSize()), tokenizer, !ignoreEndOfText, unescaped(stops));
            long sessionStart = System.nanoTime();
            // Sized to the request: a full-context session would allocate (and the OS zero) ~90 MB on the 124M shape.
            try (Session session = m.newSession(Math.min(promptTokens.length + maxLength, config.maxSeqLen()))) {
                long loadNanos = openNanos + System.nanoTime() - sessionStart;
                long waitStart = System.nanoTime();
                warmUp.close(); // waits for the step in hand: the JIT compiling a kernel the prompt needs too
                long waitNanos = System.nanoTime() - waitStart + mismatchedWarmUpNanos;
                generate(session, promptTokens, tokenizer, generator, new Startup(loadNanos, waitNanos), m);
            }
        }
        return 0;
    }

    /**
     * The kernels' warm-up for {@code dtype}: the one {@code Main} started before the command line was parsed,
     * if it guessed this storage type, else a new one.
     */
    private WarmUp warmUpFor(DType dtype) {
        WarmUp early = this.early;
        this.early = null;
        if (early != null && early.dtype() == dtype) {
            return early;
        }
        if (early != null) {
            long start = System.nanoTime();
            early.close(); // for another storage type: its step in hand is waited for, and counted as warm-up wait
            mismatchedWarmUpNanos = System.nanoTime() - start;
        }
        return Model.warmUp(dtype);
    }

    /**
     * A warm-up started first thing in {@code main}, before picocli parses the command line, for a
     * {@code generate} run: its storage type is read from the header of the checkpoint the arguments name
     * (or the default one). Null when there is nothing to warm up for (help, version, no readable checkpoint).
     * The command itself checks everything again and says what is wrong; this only guesses early.
     */
    static WarmUp earlyWarmUp(String[] args) {
        if (args.length == 0 || !args[0].equals("generate")) return null;
        String model = DEFAULT_MODEL;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "-h", "--help", "-V", "--version" -> {
                    return null;
                }
                case "--model" -> model = i + 1 < args.length ? args[++i] : model;
                default -> model = args[i].startsWith("--model=") ? args[i].substring("--model=".length()) : model;
            }
        }
        try {
            DType dtype = Checkpoint.storageType(Path.of(model));
            return dtype == null ? null : Model.warmUp(dtype);
        } catch (InvalidPathException e) {
            return null;
        }
    }

    /**
     * Before the first prompt row: loading (opening the checkpoint and making the session; the tokenizer and the
     * prompt's reading are not counted), and waiting for the warm-up to let go of the cores.
     */
    record Startup(long loadNanos, long warmUpNanos) { }

    /** The generation itself, streamed; then the stats line. */
    private void generate(Session session, int[] promptTokens, GPT2Tokenizer tokenizer, Generator generator, Startup startup, Model m) {
        int[] generated = new int[maxLength];
        if (!showSteps) {
            out.print(styled("Prompt:    ", Style.bold) + styled(tokenizer.decode(promptTokens), Style.faint) + "\n"
                    + styled("Generated: ", Style.bold) + (terminal.colour() ? Style.fg_green.on() : ""));
            out.flush();
        }
        Generator.Result result = generator.generate(session, promptTokens, generated, (step, token, text, length) -> {
            if (showSteps) {
                if (token >= 0) {
                    out.println("Step " + (step + 1) + ": Generated token " + token + " → '" + tokenizer.display(token) + "'");
                }
            } else {
                out.write(text, 0, length);
                out.flush();
            }
        });
        int[] produced = java.util.Arrays.copyOf(generated, result.newTokens());
        if (showSteps) {
            out.println();
            out.println(styled("Prompt:    ", Style.bold) + styled(tokenizer.decode(promptTokens), Style.faint));
            out.println(styled("Generated: ", Style.bold) + styled(tokenizer.decode(produced), Style.fg_green));
        } else {
            out.println(terminal.colour() ? Style.reset.on() : "");
        }
        out.println(stats(promptTokens.length, generator.chooser().describe(), startup, result, m.threads()));
        if (statsJson != null) {
            writeStatsJson(statsJson, promptTokens.length, startup, result, m);
        }
    }

    /**
     * No --model and no GPT-2 yet: on a terminal, offer what {@code ./tinyllm download gpt2} does (as
     * {@code ollama run} pulls a model it lacks) and go on with it; elsewhere, say how in one line.
     */
    private void firstRun(Path model) {
        String how = "get GPT-2 with ./tinyllm download gpt2 (needs internet), "
                + "or pass --model FILE (./tinyllm synthetic --shape 124M writes a random one)";
        if (terminal.keyboard() == null) {
            throw new TinyLlmException("no model at " + model + ": " + how);
        }
        if (!terminal.confirm(err, "No GPT-2 at " + model + " yet. Download GPT-2 124M (about 550 MB) from the Hugging Face hub"
                + " and convert it, as ./tinyllm download gpt2 does?")) {
            throw new TinyLlmException("no model at " + model + ": " + how);
        }
        Path dir = model.toAbsolutePath().getParent();
        Path checkpoint = DownloadCommand.fetch("gpt2", DType.FP32, dir, hub, err, terminal.colour());
        if (!checkpoint.equals(model.toAbsolutePath())) {
            throw new TinyLlmException("downloaded " + checkpoint + ", but the default model is " + model + ": pass --model " + checkpoint);
        }
        err.println();
    }

    /**
     * The prompt's tokens, never reading or tokenizing more text than the context can use: no token is
     * longer than the vocabulary's longest, so a prompt that fits beside the new tokens has at most
     * {@code room x longest} bytes. Beyond that, without --truncate it cannot fit (an error at once, not
     * minutes in the tokenizer); with --truncate only the tail that surely covers the room is tokenized.
     */
    private int[] promptTokens(GPT2Tokenizer tokenizer, GPT2Config config) {
        int[] tokens;
        if (prompt.tokens != null) {
            tokens = prompt.tokens;
        } else {
            long room = config.room(maxLength);
            int limit = (int) Math.min(Integer.MAX_VALUE / 2, (room + 1) * tokenizer.vocabulary().longest() + 4);
            byte[] tail;
            long total;
            try (InputStream in = prompt.text != null ? new ByteArrayInputStream(prompt.text.getBytes(StandardCharsets.UTF_8))
                    : prompt.file.equals("-") ? System.in : Files.newInputStream(Path.of(prompt.file))) {
                byte[] buffer = new byte[Math.min(2 * limit, 1 << 16)];
                int n = 0;
                total = 0;
                for (int r; (r = in.read(buffer, n, buffer.length - n)) >= 0; ) {
                    n += r;
                    total += r;
                    if (total > limit && !truncate) break;
                    if (n == buffer.length) {
                        if (buffer.length < 2 * limit) {
                            buffer = Arrays.copyOf(buffer, (int) Math.min(2L * limit, 2L * buffer.length));
                        } else { // keep the last `limit` bytes
                            System.arraycopy(buffer, n - limit, buffer, 0, limit);
                            n = limit;
                        }
                    }
                }
                tail = Arrays.copyOfRange(buffer, Math.max(0, n - limit), n);
            } catch (IOException e) {
                throw TinyLlmException.io("cannot read the prompt file", Path.of(prompt.file), e);
            }
            if (total > limit && !truncate) {
                throw new TinyLlmException("prompt of more than " + limit + " bytes is more than the " + room + " tokens that fit beside "
                        + maxLength + " new tokens in the model's context of " + config.maxSeqLen() + " tokens (--truncate keeps its end)");
            }
            int from = 0;
            while (total > limit && from < 3 && (tail[from] & 0xC0) == 0x80) from++; // the cut may split a character
            tokens = tokenizer.encode(utf8(tail, from, total - tail.length));
            if (total > limit && tokens.length > 1) {
                tokens = Arrays.copyOfRange(tokens, 1, tokens.length); // the cut may split a word
            }
        }
        if (tokens.length == 0) {
            throw new TinyLlmException("the prompt is empty: give --text, --prompt-file or --tokens with something in it");
        }
        requireInVocabulary(tokens, config, tokenizer);
        return tokens;
    }

    /**
     * {@code bytes} from {@code from} on as text; {@code bytes[0]} is at {@code offset} in the prompt. The file is
     * UTF-8 (README): other bytes (a Latin-1 or UTF-16 file) are refused with where they are, not decoded to
     * U+FFFD and generated from as if the text were what the user meant.
     */
    private String utf8(byte[] bytes, int from, long offset) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes, from, bytes.length - from);
        CharBuffer text = CharBuffer.allocate(bytes.length - from); // UTF-8 never decodes to more chars than bytes
        CoderResult result = decoder.decode(in, text, true);
        if (!result.isError()) {
            result = decoder.flush(text);
        }
        if (result.isError()) {
            StringBuilder bad = new StringBuilder();
            for (int i = in.position(); i < in.position() + result.length(); i++) {
                bad.append(bad.isEmpty() ? "" : " ").append(String.format(Locale.ROOT, "%02x", bytes[i] & 0xff));
            }
            throw new TinyLlmException((prompt.file.equals("-") ? "standard input" : "prompt file " + prompt.file)
                    + " is not UTF-8: the bytes at offset " + (offset + in.position()) + " (" + bad + ") are no UTF-8 character;"
                    + " save it as UTF-8");
        }
        return text.flip().toString();
    }

    /**
     * The engine refuses an id beyond the vocabulary only in the first forward pass, after "Prompt:" is printed;
     * checked here, the error is all the run prints. Text can fail this too: GPT-2's tokenizer gives ids up to
     * 50256, beyond a checkpoint with a smaller vocabulary (synthetic and test models).
     */
    private void requireInVocabulary(int[] tokens, GPT2Config config, GPT2Tokenizer tokenizer) {
        int vocabulary = config.vocabSize();
        for (int token : tokens) {
            if (token >= 0 && token < vocabulary) continue;
            if (prompt.tokens != null) {
                throw new TinyLlmException("token id " + token + " is out of range: the model's vocabulary is 0.." + (vocabulary - 1));
            }
            throw new TinyLlmException("the text's tokens do not fit this model's vocabulary of 0.." + (vocabulary - 1)
                    + ": GPT-2's tokenizer gives token id " + token + " ('" + tokenizer.display(token) + "'); give --tokens"
                    + " within it, or a model with GPT-2's vocabulary of " + GPT2Tokenizer.VOCAB_SIZE);
        }
    }

    /** The prompt as it is if it fits with the new tokens; with --truncate, its last tokens that fit. */
    private int[] fitToContext(int[] tokens, GPT2Config config) {
        if (config.fits(tokens.length, maxLength)) {
            return tokens;
        }
        int context = config.maxSeqLen(), keep = (int) config.room(maxLength);
        if (!truncate) {
            throw new TinyLlmException("prompt of " + tokens.length + " tokens + " + maxLength
                    + " new tokens exceeds the model's context of " + context + " tokens"
                    + " (--truncate keeps the last " + keep + " prompt tokens)");
        }
        err.println("note: prompt truncated to its last " + keep + " of " + tokens.length + " tokens, to leave room for "
                + maxLength + " new tokens in the context of " + context);
        return Arrays.copyOfRange(tokens, tokens.length - keep, tokens.length);
    }

    private TokenChooser chooser(int vocabSize) {
        // Checked here, not left to the Sampler: its words are the API's, where greedy is not a temperature.
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new TinyLlmException("--temperature must be 0 (greedy) or a positive finite number, got " + temperature);
        }
        if (temperature > 0 && Float.isInfinite(1f / temperature)) {
            throw new TinyLlmException("--temperature " + temperature + " is too small: 1/T overflows a float (use 0 for greedy)");
        }
        boolean filters = topK != 0 || topP != 1f;
        if (temperature == 0 && !filters) {
            return new Greedy();
        }
        // Asking for top-k or top-p means asking for sampling: at temperature 1 if none was given.
        float t = temperature == 0 ? 1f : temperature;
        return new Sampler(vocabSize, t, topK, topP, seed != null ? seed : System.nanoTime());
    }

    /** Shells make a newline in an argument awkward: accept \n and \t as escapes. */
    private static List<String> unescaped(List<String> stops) {
        return stops.stream().map(s -> s.replace("\\n", "\n").replace("\\t", "\t")).toList();
    }

    private String styled(String text, Style style) {
        return terminal.colour() ? style.on() + text + style.off() + Style.reset.on() : text;
    }

    /**
     * --stats-json is written once the whole run is over: a path no file can be written at is refused before the
     * model loads, not after a generation the user waited for. A missing parent is fine: the write creates it.
     */
    private static void requireWritableFile(Path file) {
        if (file.toString().isEmpty()) {
            throw new TinyLlmException("--stats-json is empty: give the file to write the timings to");
        }
        if (Files.isDirectory(file)) {
            throw new TinyLlmException("--stats-json " + file + " is a directory: give a file in it, e.g. " + file.resolve("stats.json"));
        }
        for (Path parent = file.toAbsolutePath().getParent(); parent != null; parent = parent.getParent()) {
            if (Files.isDirectory(parent)) {
                return;
            }
            if (Files.exists(parent)) {
                throw new TinyLlmException("--stats-json " + file + " cannot be written: " + parent + " is a file, not a directory");
            }
        }
    }

    /** The stats line's figures for scripts; rates are null where there was nothing to time. */
    static void writeStatsJson(Path file, int promptTokens, Startup startup, Generator.Result r, Model m) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("prompt_tokens", promptTokens);
        json.put("new_tokens", r.newTokens());
        json.put("stop_reason", r.stopReason().name().toLowerCase(Locale.ROOT));
        json.put("load_ms", startup.loadNanos() / 1e6);
        json.put("warm_up_wait_ms", startup.warmUpNanos() / 1e6);
        json.put("prefill_ms", r.prefillNanos() / 1e6);
        json.put("decode_ms", r.decodeNanos() / 1e6);
        json.put("decode_steps", r.decodeSteps());
        json.put("prefill_tokens_per_s", promptTokens / (r.prefillNanos() / 1e9));
        json.put("decode_tokens_per_s", r.decodeSteps() == 0 ? null : r.decodeSteps() / (r.decodeNanos() / 1e9));
        json.put("threads", m.threads());
        json.put("weights_bytes_per_token", m.config().weightBytesPerToken());
        try {
            if (file.getParent() != null) Files.createDirectories(file.getParent());
            Files.writeString(file, new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(json));
        } catch (IOException e) {
            throw TinyLlmException.io("cannot write", file, e);
        }
    }

    static String stats(int promptTokens, String method, Startup startup, Generator.Result r, int threads) {
        double perToken = r.decodeSteps() == 0 ? Double.NaN : r.decodeNanos() / 1e6 / r.decodeSteps();
        String stop = switch (r.stopReason()) {
            case MAX_TOKENS -> "";
            case END_OF_TEXT -> ", stopped at end-of-text";
            case STOP_STRING -> ", stopped at a stop string";
        };
        return String.format(Locale.ROOT,
                "Stats: %d prompt tokens, %d new tokens%s, %s, %d threads | load %.0f ms | warm-up wait %.0f ms | prompt %.1f ms"
                        + " | %s ms/token | %s tokens/s",
                promptTokens, r.newTokens(), stop, method, threads, startup.loadNanos() / 1e6, startup.warmUpNanos() / 1e6,
                r.prefillNanos() / 1e6,
                r.decodeSteps() == 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", perToken),
                r.decodeSteps() == 0 ? "n/a" : String.format(Locale.ROOT, "%.1f", 1000 / perToken));
    }
}
