package tinyllm.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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

    @Test
    void refusesAShapeTheReaderWouldRefuse() {
        CliRun run = CliRun.of("synthetic", "--layers", "2", "--heads", "5", "--channels", "48", "--out",
                dir.resolve("bad.bin").toString());
        BadInputTest.assertOneLineError(1, run, "NH = 5");
        assertFalse(Files.exists(dir.resolve("bad.bin")));
    }
}
