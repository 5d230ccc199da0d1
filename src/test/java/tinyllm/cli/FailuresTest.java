package tinyllm.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.Fixtures;
import tinyllm.TinyLlmException;
import tinyllm.api.Model;
import tinyllm.bench.ColdStart;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.model.GPT2Config;
import tinyllm.model.ParameterLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static tinyllm.cli.BadInputTest.assertOneLineError;
import static tinyllm.cli.BadInputTest.generate;

/** Errors (java.lang.Error too), broken weights, unbounded input and misleading messages: each one line. */
class FailuresTest {
    static final String MICRO = BadInputTest.MICRO;

    @TempDir
    Path dir;

    @Test
    void verbosePrintsTheStackTraceOnEverySubcommand() {
        String[][] failing = {
            {"generate", "--model", dir.resolve("none.bin").toString(), "--tokens", "1"},
            {"bench", "--model", dir.resolve("none.bin").toString()},
            {"convert", dir.resolve("none").toString(), "--out", dir.resolve("x.bin").toString()},
            {"synthetic", "--shape", "7B", "--out", dir.resolve("x.bin").toString()},
            {"download", "gpt5"},
        };
        for (String[] args : failing) {
            CliRun quiet = CliRun.of(args);
            assertOneLineError(1, quiet);
            String[] verbose = java.util.Arrays.copyOf(args, args.length + 1);
            verbose[args.length] = "--verbose";
            CliRun loud = CliRun.of(verbose);
            assertEquals(1, loud.exitCode(), loud.err());
            assertTrue(loud.err().startsWith(quiet.err().strip() + "\n"), loud.err());
            assertTrue(loud.err().contains("\tat tinyllm."), () -> String.join(" ", args) + ": no stack trace in " + loud.err());
        }
    }

    @Test
    void maxLengthAtIntMaxIsAnErrorNotAnOverflow() {
        assertOneLineError(1, generate(MICRO, "--tokens", "1", "--max-length", "2147483647"), "--max-length 2147483647", "context of 64");
    }

    @Test
    void theLastPositionOfTheContextCanBeUsed() {
        CliRun run = generate(MICRO, "--tokens", "1", "--max-length", "64");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("Stats: 1 prompt tokens, 64 new tokens"), run.out());
    }

    @Test
    void threadsBeyondTheBoundAreRefused() {
        assertOneLineError(1, generate(MICRO, "--tokens", "1", "--threads", "2147483647"), "--threads", "per available processor");
    }

    @Test
    void aTinyTemperatureIsBlamedOnTheTemperature() {
        assertOneLineError(1, generate(MICRO, "--tokens", "1", "--temperature", "1e-45"), "too small", "1/T overflows");
    }

    /** In the CLI temperature 0 is greedy: the message must not say otherwise, as the Sampler's own does. */
    @Test
    void anInfiniteOrNaNTemperatureIsBlamedOnTheFlag() {
        for (String t : new String[] {"Infinity", "NaN", "-1"}) {
            String err = assertOneLineError(1, generate(MICRO, "--tokens", "1", "--temperature", t),
                    "--temperature must be 0 (greedy) or a positive finite number", "got " + t);
            assertTrue(!err.contains("not temperature 0"), err);
        }
    }

    /** A refused connection's exception has no message: the error says what happened instead of "null". */
    @Test
    void benchServeAtAPortNobodyListensOnSaysConnectionRefused() throws IOException {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        String err = assertOneLineError(1, CliRun.of("bench", "serve", "--url", "http://127.0.0.1:" + port, "--clients", "1", "--tokens", "1"),
                "cannot reach http://127.0.0.1:" + port, "connection refused");
        assertFalse(err.contains("null"), err);
    }

    @Test
    void benchServeRefusesAUrlItCannotRequest() {
        for (String url : new String[] {"not-a-url", "ftp://127.0.0.1:8000", "http:8000"}) {
            assertOneLineError(1, CliRun.of("bench", "serve", "--url", url), "--url must be an absolute http(s) URL", url);
        }
    }

    /**
     * HF_ENDPOINT is read from the environment, so a JVM of its own runs the command. The value is refused, named,
     * before the download writes anything.
     */
    @Test
    void downloadRefusesAnHfEndpointThatIsNoUrl() throws Exception {
        Path log = dir.resolve("download.log"), weights = dir.resolve("weights");
        ProcessBuilder download = new ProcessBuilder(ServeProcessTest.javaCommand("download", "gpt2", "--dir", weights.toString()))
                .redirectErrorStream(true).redirectOutput(log.toFile());
        download.environment().put("HF_ENDPOINT", "not-a-url");
        Process process = download.start();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "download did not exit");
        // The JVM's own notice of the incubating Vector API module is no part of what tinyllm says.
        String said = Files.readAllLines(log).stream().filter(line -> !line.startsWith("WARNING: Using incubator modules"))
                .collect(Collectors.joining("\n"));
        assertOneLineError(1, new CliRun(process.exitValue(), "", said), "HF_ENDPOINT must be an absolute http(s) URL", "not-a-url");
        assertFalse(Files.exists(weights), "the download wrote into " + weights + " before refusing HF_ENDPOINT");
    }

    /**
     * vocab.bin's context of 128 cannot hold the cold bench's 900-token prompt: the short case is timed and the long
     * one skipped with a note, not run to fail as "exited 1 without a stats line". The launcher is a script beside
     * a stand-in jar that runs this JVM's classes (the checkout's ./tinyllm could rebuild the jar mid-test).
     */
    @Test
    void coldBenchSkipsTheLongPromptOnAModelWhoseContextCannotHoldIt() throws Exception {
        String jvm = ServeProcessTest.javaCommand().stream().map(arg -> "'" + arg + "'").collect(Collectors.joining(" "));
        Path launcher = Files.writeString(dir.resolve("tinyllm"), "#!/bin/sh\nexec " + jvm + " \"$@\"\n");
        assertTrue(launcher.toFile().setExecutable(true));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Path vocab = Fixtures.path("vocab.bin");
        GPT2Config config;
        try (Model model = Model.open(vocab, 1, true)) {
            config = model.config();
        }
        ColdStart.beside(dir.resolve("target").resolve("tinyllm.jar"), new PrintStream(bytes, true, StandardCharsets.UTF_8))
                .measure(vocab, config, 1, dir.resolve("scratch"));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("short        MEDIAN wall"), out);
        assertTrue(out.contains("900-token    skipped: 900 prompt tokens + 20 new do not fit vocab.bin's context of 128 tokens"), out);
    }

    @Test
    void aFifoAsTheModelIsRefusedWithoutBlocking() throws Exception {
        Path fifo = dir.resolve("fifo.bin");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        assertOneLineError(1, generate(fifo.toString(), "--tokens", "1"), "not a regular file");
    }

    /** The JDK calls a path under a file "no such file"; the error names the file that is in the way. */
    @Test
    void aParentThatIsAFileIsNamed() throws IOException {
        Path file = Files.writeString(dir.resolve("notes.txt"), "not a folder");
        assertOneLineError(1, generate(file.resolve("model.bin").toString(), "--tokens", "1"),
                "not found", file + " is a file, not a directory");
    }

    /** Every command that loads a model can read it into memory instead of mapping it. */
    @Test
    void everyModelCommandOffersNoMmap() {
        for (String[] command : new String[][] {{"generate", "--help"}, {"serve", "--help"}, {"bench", "--help"},
                {"bench", "serve", "--help"}}) {
            CliRun run = CliRun.of(command);
            assertEquals(0, run.exitCode(), String.join(" ", command) + ": " + run.err());
            assertTrue(run.out().contains("--no-mmap"), String.join(" ", command) + " has no --no-mmap");
        }
    }

    @Test
    void ioFailuresAreNamedInWords() {
        Path p = Path.of("w/x.bin");
        assertEquals("cannot read checkpoint w/x.bin: permission denied",
                TinyLlmException.io("cannot read checkpoint", p, new AccessDeniedException("w/x.bin")).getMessage());
        assertEquals("cannot write w/x.bin: w: not found",
                TinyLlmException.io("cannot write", p, new NoSuchFileException("w")).getMessage());
    }

    /** A copy of micro.bin with one float of tensor {@code tensor} (at element {@code index}) replaced. */
    Path microWith(int tensor, long index, float value) throws IOException {
        byte[] bytes = Files.readAllBytes(Fixtures.path("micro.bin"));
        GPT2Config config = new GPT2Config(64, 500, 512, 2, 4, 48, tinyllm.model.DType.FP32);
        long at = Checkpoint.HEADER_BYTES + (config.layout().offsets()[tensor] + index) * Float.BYTES;
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putFloat((int) at, value);
        return Files.write(dir.resolve("broken.bin"), bytes);
    }

    @Test
    void greedyRefusesNonFiniteLogitsNamingTheStep() throws IOException {
        assertOneLineError(1, generate(microWith(ParameterLayout.QKVW, 7, Float.NaN).toString(), "--tokens", "1,2"),
                "step 1", "NaN or infinite");
        assertOneLineError(1, generate(microWith(ParameterLayout.WTE, 48 * 3, Float.NaN).toString(), "--tokens", "1,2"),
                "step 1", "NaN or infinite");
        assertOneLineError(1, generate(microWith(ParameterLayout.LNFW, 5, Float.POSITIVE_INFINITY).toString(), "--tokens", "1,2"),
                "step 1", "NaN or infinite");
    }

    @Test
    void aHugeOneWordPromptIsRefusedAtOnceOrTruncatedFromItsTail() throws IOException {
        Path word = dir.resolve("word.txt");
        try (RandomAccessFile f = new RandomAccessFile(word.toFile(), "rw")) {
            byte[] chunk = "a".repeat(1 << 20).getBytes();
            for (int i = 0; i < 50; i++) f.write(chunk);
        }
        String vocab = Fixtures.path("vocab.bin").toString(); // GPT-2's vocabulary, context of 128
        assertOneLineError(1, generate(vocab, "--prompt-file", word.toString()), "prompt of more than", "--truncate");
        CliRun run = generate(vocab, "--prompt-file", word.toString(), "--truncate", "--max-length", "5");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("Stats: 124 prompt tokens, 5 new tokens"), run.out());
    }

    @Test
    void aKvCacheBeyondTheMachinesMemoryIsOneLine() throws IOException {
        // maxT 2^20, 64 layers of 1024 channels: a 512 GB cache. The weights are a sparse file of zeros.
        GPT2Config config = new GPT2Config(1 << 20, 128, 128, 64, 16, 1024, tinyllm.model.DType.FP32);
        Path file = dir.resolve("long-context.bin");
        ByteBuffer header = ByteBuffer.allocate(Checkpoint.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : Checkpoint.header(config)) header.putInt(v);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.write(header.array());
            f.setLength(Checkpoint.HEADER_BYTES + config.layout().bytes());
        }
        // generate sizes its session to the request, so ask for the whole context.
        assertOneLineError(1, generate(file.toString(), "--tokens", "1", "--max-length", String.valueOf((1 << 20) - 1)),
                "cannot allocate a session", "KV cache", "MB");
    }
}
