package tinyllm.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.ChildJvm;
import tinyllm.Fixtures;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SyntheticCommandTest {
    @TempDir
    Path dir;

    CliRun synthetic(Path out, long seed) {
        return CliRun.of("synthetic", "--layers", "2", "--heads", "4", "--channels", "48", "--vocab", "500",
                "--max-seq", "64", "--seed", Long.toString(seed), "--out", out.toString());
    }

    @Test
    void writesAValidCheckpointOfTheSizeLlmCWould() throws IOException {
        Path out = dir.resolve("tiny.bin");
        CliRun run = synthetic(out, 7);
        assertEquals(0, run.exitCode(), run.err());
        // Same shape as the llm.c fixture micro.bin, so the same number of bytes.
        assertEquals(338176, Files.size(out));
        CliRun gen = CliRun.of("generate", "--model", out.toString(), "--tokens", "1,2,3", "--max-length", "20");
        assertEquals(0, gen.exitCode(), gen.err());
        assertTrue(gen.out().contains("Stats: 3 prompt tokens, 20 new tokens"), gen.out());
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytes() throws IOException {
        synthetic(dir.resolve("a.bin"), 1);
        synthetic(dir.resolve("b.bin"), 1);
        synthetic(dir.resolve("c.bin"), 2);
        byte[] a = Files.readAllBytes(dir.resolve("a.bin"));
        assertArrayEquals(a, Files.readAllBytes(dir.resolve("b.bin")));
        assertFalse(java.util.Arrays.equals(a, Files.readAllBytes(dir.resolve("c.bin"))));
    }

    /** q8: the fp32 file's draws quantized, as converting that file gives; then the convert command on .bin files. */
    @Test
    void q8IsTheFp32FileQuantizedAndConvertTakesLlmcFiles() throws IOException {
        Path fp32 = dir.resolve("s.bin"), q8 = dir.resolve("s-q8.bin"), converted = dir.resolve("c-q8.bin");
        synthetic(fp32, 7);
        CliRun run = CliRun.of("synthetic", "--layers", "2", "--heads", "4", "--channels", "48", "--vocab", "500",
                "--max-seq", "64", "--seed", "7", "--dtype", "q8", "--out", q8.toString());
        assertEquals(0, run.exitCode(), run.err());
        CliRun convert = CliRun.of("convert", fp32.toString(), "--dtype", "q8", "--out", converted.toString());
        assertEquals(0, convert.exitCode(), convert.err());
        assertArrayEquals(Files.readAllBytes(q8), Files.readAllBytes(converted));
        BadInputTest.assertOneLineError(1, CliRun.of("convert", q8.toString(), "--dtype", "q8", "--out", dir.resolve("x.bin").toString()),
                "already q8");
        BadInputTest.assertOneLineError(1, CliRun.of("convert", fp32.toString(), "--dtype", "int4"), "unknown --dtype 'int4'", "q8");
        CliRun gen = CliRun.of("generate", "--model", q8.toString(), "--tokens", "1,2,3", "--max-length", "5");
        assertEquals(0, gen.exitCode(), gen.err());
        CliRun accuracy = CliRun.of("bench", "accuracy", "--model", q8.toString(), "--reference", fp32.toString(), "--tokens", "16");
        assertEquals(0, accuracy.exitCode(), accuracy.err());
        assertTrue(accuracy.out().contains("teacher-forced over 16 random tokens") && accuracy.out().contains("relative RMS error"),
                accuracy.out());
        BadInputTest.assertOneLineError(1, CliRun.of("bench", "accuracy", "--model", q8.toString(), "--reference",
                Fixtures.path("vocab.bin").toString()), "different shapes", "C=48", "C=16");
    }

    @Test
    void refusesAShapeTheReaderWouldRefuse() {
        CliRun run = CliRun.of("synthetic", "--layers", "2", "--heads", "5", "--channels", "48", "--out",
                dir.resolve("bad.bin").toString());
        BadInputTest.assertOneLineError(1, run, "NH = 5");
        assertFalse(Files.exists(dir.resolve("bad.bin")));
    }

    /** GPT-2's largest dimensions within the header's bounds: 844 TB, refused before a byte is written. */
    @Test
    void refusesAShapeTheDiskCannotHold() {
        Path out = dir.resolve("huge/huge.bin");
        CliRun run = CliRun.of("synthetic", "--layers", "4096", "--heads", "64", "--channels", "65536", "--out", out.toString());
        BadInputTest.assertOneLineError(1, run, "not enough disk space for " + out, "the checkpoint takes 844.5 TB", "free");
        assertFalse(Files.exists(dir.resolve("huge")), "nothing created");
    }

    /**
     * The disk fills halfway (here: a file-size limit, which the JVM turns into a failing write): one line,
     * and no partial file left behind. Runs the CLI in a child JVM, since the limit applies to a whole process.
     */
    @Test
    void aDiskThatFillsUpLeavesNoPartialFile() throws Exception {
        Path out = dir.resolve("full.bin");
        List<String> command = new ArrayList<>(List.of("bash", "-c", "ulimit -f 100 && exec \"$@\"", "bash"));
        command.addAll(ChildJvm.command("--enable-native-access=ALL-UNNAMED"));
        command.addAll(List.of("tinyllm.cli.Main", "synthetic", "--layers", "2", "--heads", "4", "--channels", "48",
                "--vocab", "500", "--max-seq", "64", "--out", out.toString()));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS));
        assertEquals(1, process.exitValue(), output);
        assertTrue(output.contains("error: cannot write " + out + ": File too large"), output);
        assertFalse(output.contains("\tat "), "no stack trace: " + output);
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(dir.resolve("full.bin.partial")), "the partial file is deleted");
    }
}
