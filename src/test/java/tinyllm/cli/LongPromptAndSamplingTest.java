package tinyllm.cli;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.Fixtures;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Prompts from files and standard input, too long for the context or not; sampling and stop flags. */
class LongPromptAndSamplingTest {
    static final String VOCAB = Fixtures.path("vocab.bin").toString(); // context of 128 tokens

    @TempDir
    Path dir;

    /** "word" repeated: one token per repetition, 300 tokens in all. */
    Path longPrompt() throws IOException {
        return Files.writeString(dir.resolve("long.txt"), " word".repeat(300));
    }

    static String line(CliRun run, String prefix) {
        return run.out().lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow(() -> new AssertionError(run.out()));
    }

    @Test
    void aPromptFileThatDoesNotFitIsAnErrorNamingTheNumbers() throws IOException {
        CliRun run = CliRun.of("generate", "--model", VOCAB, "--prompt-file", longPrompt().toString(), "--max-length", "10");
        BadInputTest.assertOneLineError(1, run, "300 tokens", "10 new tokens", "context of 128", "--truncate");
    }

    @Test
    void truncateKeepsTheLastTokensThatFitAndSaysSo() throws IOException {
        CliRun run = CliRun.of("generate", "--model", VOCAB, "--prompt-file", longPrompt().toString(), "--max-length", "10", "--truncate");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("note: prompt truncated to its last 119 of 300 tokens"), run.err());
        assertEquals(1, run.err().strip().lines().filter(l -> l.startsWith("note:")).count());
        assertTrue(line(run, "Stats:").startsWith("Stats: 119 prompt tokens, 10 new tokens"), run.out());
    }

    @Test
    void aDashReadsThePromptFromStandardInput() {
        InputStream stdin = System.in;
        try {
            System.setIn(new ByteArrayInputStream("Once upon a time".getBytes(StandardCharsets.UTF_8)));
            CliRun fromStdin = CliRun.of("generate", "--model", VOCAB, "--prompt-file", "-", "--max-length", "6");
            CliRun fromText = CliRun.of("generate", "--model", VOCAB, "--text", "Once upon a time", "--max-length", "6");
            assertEquals(0, fromStdin.exitCode(), fromStdin.err());
            assertEquals(line(fromText, "Generated:"), line(fromStdin, "Generated:"));
        } finally {
            System.setIn(stdin);
        }
    }

    @Test
    void aMissingPromptFileIsAnError() {
        BadInputTest.assertOneLineError(1, CliRun.of("generate", "--model", VOCAB, "--prompt-file", dir.resolve("none.txt").toString()),
                "prompt file", "not found");
    }

    /** The README's prompt file is UTF-8: a UTF-16 one (its byte order mark ff fe first) is refused, not decoded to U+FFFD. */
    @Test
    void aPromptFileThatIsNotUtf8IsAnErrorSayingWhere() throws IOException {
        Path utf16 = Files.write(dir.resolve("utf16.txt"), new byte[] {(byte) 0xff, (byte) 0xfe, 'h', 0, 'i', 0});
        CliRun run = CliRun.of("generate", "--model", VOCAB, "--prompt-file", utf16.toString(), "--max-length", "2");
        BadInputTest.assertOneLineError(1, run, "prompt file " + utf16, "not UTF-8", "offset 0 (ff)");
        assertEquals("", run.out());
    }

    /** With --truncate only the file's tail is decoded; the offset is still counted from the file's first byte. */
    @Test
    void aLatin1ByteInTheTailOfATruncatedPromptIsFoundAtItsOffsetInTheFile() throws IOException {
        byte[] words = " word".repeat(5000).getBytes(StandardCharsets.US_ASCII);
        byte[] bytes = java.util.Arrays.copyOf(words, words.length + 4);
        bytes[words.length] = (byte) 0xe9; // é in Latin-1
        bytes[words.length + 1] = 'n';
        bytes[words.length + 2] = 'd';
        bytes[words.length + 3] = '.';
        Path latin1 = Files.write(dir.resolve("latin1.txt"), bytes);
        CliRun run = CliRun.of("generate", "--model", VOCAB, "--prompt-file", latin1.toString(), "--max-length", "2", "--truncate");
        BadInputTest.assertOneLineError(1, run, "not UTF-8", "offset 25000 (e9)");
    }

    @Test
    void theSameSeedSamplesTheSameTextAndTheStatsSaySo() {
        String[] args = {"generate", "--model", VOCAB, "--text", "Once upon a time", "--max-length", "12",
                "--temperature", "1.5", "--top-k", "100", "--seed", "7"};
        CliRun first = CliRun.of(args), second = CliRun.of(args);
        assertEquals(line(first, "Generated:"), line(second, "Generated:"));
        assertTrue(line(first, "Stats:").contains("sampling (temperature 1.5, top-k 100, seed 7)"), first.out());
        CliRun greedy = CliRun.of("generate", "--model", VOCAB, "--text", "Once upon a time", "--max-length", "12");
        assertNotEquals(line(greedy, "Generated:"), line(first, "Generated:"), "random weights at temperature 1.5 do not sample the argmax 12 times");
    }

    @Test
    void aStopStringEndsTheGeneration() {
        // Greedy on vocab.bin gives " sellers" then "Republic" four times (the llm.c fixture).
        CliRun run = CliRun.of("generate", "--model", VOCAB, "--text", "Once upon a time", "--max-length", "30", "--stop", "RepublicRepublic");
        assertEquals(0, run.exitCode(), run.err());
        assertEquals("Generated:  sellersRepublicRepublic", line(run, "Generated:"));
        assertTrue(line(run, "Stats:").startsWith("Stats: 4 prompt tokens, 3 new tokens, stopped at a stop string"), run.out());
    }

    @Test
    void badSamplingFlagsAreOneLineErrors() {
        BadInputTest.assertOneLineError(1, CliRun.of("generate", "--model", VOCAB, "--tokens", "1", "--temperature", "-1"), "--temperature");
        BadInputTest.assertOneLineError(1, CliRun.of("generate", "--model", VOCAB, "--tokens", "1", "--top-p", "1.5"), "top");
        BadInputTest.assertOneLineError(1, CliRun.of("generate", "--model", VOCAB, "--tokens", "1", "--top-k", "-2"), "top");
    }
}
