package tinyllm.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.Fixtures;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every kind of bad input ends in one line on stderr that says what is wrong, a non-zero exit code,
 * and no stack trace.
 */
class BadInputTest {
    @TempDir
    Path dir;

    static final String MICRO = Fixtures.path("micro.bin").toString();

    /** Asserts a one-line error containing each of {@code words}, and returns it. */
    static String assertOneLineError(int expectedCode, CliRun run, String... words) {
        assertEquals(expectedCode, run.exitCode(), () -> "exit code; stderr: " + run.err());
        String err = run.err().strip();
        assertFalse(err.contains("\n"), () -> "more than one line:\n" + err);
        assertFalse(err.contains("Exception") || err.contains("\tat "), () -> "looks like a stack trace: " + err);
        assertTrue(err.startsWith("error: "), err);
        for (String word : words) {
            assertTrue(err.contains(word), () -> "'" + word + "' missing from: " + err);
        }
        return err;
    }

    static CliRun generate(String model, String... more) {
        String[] args = {"generate", "--model", model};
        String[] all = Arrays.copyOf(args, args.length + more.length);
        System.arraycopy(more, 0, all, args.length, more.length);
        return CliRun.of(all);
    }

    /** A copy of micro.bin with header int {@code index} replaced (all other bytes kept). */
    Path microWithHeader(int index, int value) throws IOException {
        byte[] bytes = Files.readAllBytes(Fixtures.path("micro.bin"));
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(index * 4, value);
        return Files.write(dir.resolve("edited.bin"), bytes);
    }

    @Test
    void missingCheckpoint() {
        assertOneLineError(1, generate(dir.resolve("nope.bin").toString(), "--text", "hi"), "not found", "nope.bin");
    }

    @Test
    void noModelAtTheDefaultPathSaysHowToGetOne() {
        org.junit.jupiter.api.Assumptions.assumeFalse(Files.exists(Path.of(GenerateCommand.DEFAULT_MODEL)));
        assertOneLineError(1, CliRun.of("generate", "--text", "hi"), "download gpt2", "--model");
    }

    /** The JDK takes "" for the working directory; the user gave no path at all, and is told so. */
    @Test
    void emptyModelPath() {
        String err = assertOneLineError(1, generate("", "--text", "hi"), "checkpoint path is empty");
        assertFalse(err.contains("directory"), err);
    }

    @Test
    void checkpointIsADirectory() {
        assertOneLineError(1, generate(dir.toString(), "--text", "hi"), "is a directory");
    }

    @Test
    void wrongMagic() throws IOException {
        assertOneLineError(1, generate(microWithHeader(0, 12345).toString(), "--tokens", "1"), "magic 12345", "20240326");
    }

    @Test
    void unsupportedVersion() throws IOException {
        assertOneLineError(1, generate(microWithHeader(1, 4).toString(), "--tokens", "1"), "version 4");
    }

    @Test
    void truncatedFile() throws IOException {
        byte[] bytes = Files.readAllBytes(Fixtures.path("micro.bin"));
        Path cut = Files.write(dir.resolve("cut.bin"), Arrays.copyOf(bytes, bytes.length - 100));
        assertOneLineError(1, generate(cut.toString(), "--tokens", "1"), "truncated", "338176", "338076");
    }

    @Test
    void fileShorterThanTheHeader() throws IOException {
        Path tiny = Files.write(dir.resolve("tiny.bin"), new byte[10]);
        assertOneLineError(1, generate(tiny.toString(), "--tokens", "1"), "truncated", "1024-byte header");
    }

    @Test
    void trailingBytes() throws IOException {
        byte[] bytes = Files.readAllBytes(Fixtures.path("micro.bin"));
        Path longer = Files.write(dir.resolve("long.bin"), Arrays.copyOf(bytes, bytes.length + 4));
        assertOneLineError(1, generate(longer.toString(), "--tokens", "1"), "4 trailing bytes");
    }

    @Test
    void layerCountBeyondAnySaneModel() throws IOException {
        // 2^30 layers would overflow a 32-bit size computation into something small.
        assertOneLineError(1, generate(microWithHeader(4, 1 << 30).toString(), "--tokens", "1"), "L (layers)", "1073741824");
    }

    @Test
    void hugeShapeIsTruncatedNotOverflowed() throws IOException {
        // In bounds one by one, enormous together: the size must be computed in long and come out huge.
        Path p = microWithHeader(6, 65536);   // C
        byte[] bytes = Files.readAllBytes(p);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(4 * 4, 4096);       // L
        b.putInt(5 * 4, 1);          // NH
        b.putInt(3 * 4, 1 << 24);    // V
        b.putInt(7 * 4, 1 << 24);    // Vp
        Files.write(p, bytes);
        assertOneLineError(1, generate(p.toString(), "--tokens", "1"), "truncated", "MB");
    }

    /** A q8 header's block must be a multiple of 4 dividing C (48 here), and in 1..4096; the length must then match. */
    @Test
    void q8BlockSizesThatCannotBe() throws IOException {
        Path q8 = Fixtures.q8Micro(dir);
        for (int block : new int[] {0, -16, 6, 20, 96, 1 << 13}) {
            assertOneLineError(1, generate(withHeader(q8, 8, block).toString(), "--tokens", "1"), "q8 block", Integer.toString(block));
        }
        // A sane block of another size than the file was written with: the length no longer matches.
        assertOneLineError(1, generate(withHeader(q8, 8, 8).toString(), "--tokens", "1"), "expected", "bytes for its header's shape");
    }

    @Test
    void q8FileOfTheWrongLength() throws IOException {
        byte[] bytes = Files.readAllBytes(Fixtures.q8Micro(dir));
        Path cut = Files.write(dir.resolve("cut-q8.bin"), Arrays.copyOf(bytes, bytes.length - 4));
        assertOneLineError(1, generate(cut.toString(), "--tokens", "1"), "truncated");
        Path longer = Files.write(dir.resolve("long-q8.bin"), Arrays.copyOf(bytes, bytes.length + 1));
        assertOneLineError(1, generate(longer.toString(), "--tokens", "1"), "1 trailing bytes");
    }

    Path withHeader(Path file, int index, int value) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(index * 4, value);
        return Files.write(dir.resolve("edited-" + value + ".bin"), bytes);
    }

    @Test
    void channelsNotDivisibleByHeads() throws IOException {
        assertOneLineError(1, generate(microWithHeader(5, 5).toString(), "--tokens", "1"), "C = 48", "NH = 5");
    }

    @Test
    void negativeDimension() throws IOException {
        assertOneLineError(1, generate(microWithHeader(2, -64).toString(), "--tokens", "1"), "maxT", "-64");
    }

    @Test
    void paddedVocabularySmallerThanVocabulary() throws IOException {
        assertOneLineError(1, generate(microWithHeader(7, 499).toString(), "--tokens", "1"), "Vp = 499", "V = 500");
    }

    /** Refused before anything is printed: no "Prompt:" line on stdout ahead of the error. */
    @Test
    void tokenIdAtVocabularySize() {
        CliRun run = generate(MICRO, "--tokens", "1,500");
        assertOneLineError(1, run, "token id 500", "0..499");
        assertEquals("", run.out());
        CliRun gpt2 = generate(Fixtures.path("vocab.bin").toString(), "--tokens", "50257");
        assertOneLineError(1, gpt2, "token id 50257", "0..50256");
        assertEquals("", gpt2.out());
    }

    @Test
    void negativeTokenId() {
        CliRun run = generate(MICRO, "--tokens", "-1");
        assertOneLineError(1, run, "token id -1");
        assertEquals("", run.out());
    }

    /** GPT-2's tokenizer gives "Hello" id 15496: beyond micro.bin's 500 tokens, which the error blames on the text. */
    @Test
    void textWhoseTokensLieBeyondASmallVocabulary() {
        CliRun run = generate(MICRO, "--text", "Hello world");
        assertOneLineError(1, run, "text's tokens do not fit", "0..499", "15496");
        assertEquals("", run.out());
    }

    @Test
    void nonNumericTokenId() {
        assertOneLineError(2, generate(MICRO, "--tokens", "1,x"), "--tokens", "x");
    }

    @Test
    void zeroOrNegativeMaxLength() {
        assertOneLineError(1, generate(MICRO, "--tokens", "1", "--max-length", "0"), "--max-length", "0");
        assertOneLineError(1, generate(MICRO, "--tokens", "1", "--max-length", "-3"), "--max-length", "-3");
    }

    @Test
    void promptPlusMaxLengthBeyondTheContext() {
        assertOneLineError(1, generate(MICRO, "--tokens", "1,2,3", "--max-length", "63"),
                "3 tokens", "63 new tokens", "context of 64");
    }

    @Test
    void emptyText() {
        assertOneLineError(1, generate(MICRO, "--text", ""), "prompt is empty");
    }

    @Test
    void noPromptAtAll() {
        assertOneLineError(2, generate(MICRO), "--text", "--tokens");
    }

    @Test
    void bothTextAndTokens() {
        assertOneLineError(2, generate(MICRO, "--text", "a", "--tokens", "1"), "mutually exclusive");
    }

    @Test
    void unknownFlag() {
        assertOneLineError(2, generate(MICRO, "--tokens", "1", "--bogus"), "--bogus");
    }

    @Test
    void zeroThreads() {
        assertOneLineError(1, generate(MICRO, "--tokens", "1", "--threads", "0"), "--threads", "0");
    }

    @Test
    void noCommand() {
        assertOneLineError(2, CliRun.of(), "generate");
    }

    @Test
    void unknownSyntheticShape() {
        assertOneLineError(1, CliRun.of("synthetic", "--shape", "7B", "--out", dir.resolve("x.bin").toString()), "7B");
    }
}
