package tinyllm.api;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.ChildJvm;
import tinyllm.Fixtures;
import tinyllm.checkpoint.SyntheticCheckpoint;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A checkpoint truncated to its header under a warm (C2-compiled) session, in a JVM of its own: mapped,
 * the fault must be one error naming the file and a clean exit, never a JVM crash (hs_err file, exit 134);
 * read with --no-mmap, generation goes on unharmed.
 */
class TruncatedCheckpointTest {
    @TempDir
    Path dir;

    @Test
    void mappedTruncationIsAnErrorNamingTheFileNotACrash() throws Exception {
        Child child = run(Files.copy(Fixtures.path("micro.bin"), dir.resolve("micro.bin")), true);
        assertEquals(1, child.exit, child.output);
        assertTrue(child.output.contains("error: checkpoint " + child.file + " changed or truncated while in use"), child.output);
        assertTrue(child.noCrashReport, "hs_err file written: " + child.output);
    }

    /**
     * q8's decode kernel reads its weights with vector loads only, and relies on its scalar reads of the scales
     * to make it a method that may fault (see MatMulQ8.dot4): C = 64 so its blocks of 32 take that kernel.
     */
    @Test
    void mappedTruncationOfAQ8CheckpointIsAnErrorNamingTheFileNotACrash() throws Exception {
        Path file = dir.resolve("q8.bin");
        SyntheticCheckpoint.write(file, new GPT2Config(64, 500, 512, 2, 4, 64, DType.Q8), 5);
        Child child = run(file, true);
        assertEquals(1, child.exit, child.output);
        assertTrue(child.output.contains("error: checkpoint " + child.file + " changed or truncated while in use"), child.output);
        assertTrue(child.noCrashReport, "hs_err file written: " + child.output);
    }

    /**
     * The same a few rounds after start, no JIT flags: the kernels still interpreted, some Vector API methods
     * already compiled on their own, where a fault is not turned into an exception (it killed the JVM, SIGBUS, in
     * a hostile test pass). The engine checks the file's length before each forward pass.
     */
    @Test
    void mappedTruncationSoonAfterStartIsAnErrorNotACrash() throws Exception {
        for (int rounds : new int[] {3, 10}) {
            Path file = Files.copy(Fixtures.path("vocab.bin"), dir.resolve("vocab-" + rounds + ".bin"));
            Child child = run(file, true, rounds, List.of());
            assertEquals(1, child.exit, child.output);
            assertTrue(child.output.contains("error: checkpoint " + child.file + " changed or truncated while in use"), child.output);
            assertTrue(child.noCrashReport, "hs_err file written: " + child.output);
        }
    }

    @Test
    void readIntoMemoryTheTruncationDoesNotMatter() throws Exception {
        Child child = run(Files.copy(Fixtures.path("micro.bin"), dir.resolve("micro.bin")), false);
        assertEquals(0, child.exit, child.output);
        assertTrue(child.output.contains("done"), child.output);
        assertTrue(child.noCrashReport, child.output);
    }

    record Child(int exit, String output, Path file, boolean noCrashReport) {}

    Child run(Path file, boolean map) throws Exception {
        return run(file, map, 400, List.of("-Xbatch", "-XX:CompileThresholdScaling=0.05"));
    }

    Child run(Path file, boolean map, int rounds, List<String> jitFlags) throws Exception {
        List<String> flags = new java.util.ArrayList<>(List.of("--enable-native-access=ALL-UNNAMED", "-XX:ErrorFile=" + dir.resolve("hs_err_%p.log")));
        flags.addAll(jitFlags);
        List<String> command = ChildJvm.command(flags.toArray(String[]::new));
        command.addAll(List.of(TruncatedWhileMapped.class.getName(), file.toString(), Boolean.toString(map), Integer.toString(rounds)));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).directory(dir.toFile()).start();
        StringBuilder output = new StringBuilder();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
             OutputStream in = process.getOutputStream()) {
            for (String line; (line = out.readLine()) != null; ) {
                output.append(line).append('\n');
                if (line.equals("warm")) {
                    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                        channel.truncate(1024);
                    }
                    in.write('\n');
                    in.flush();
                }
            }
        }
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "child still running: " + output);
        assumeTrue(Files.size(file) == 1024 || !output.toString().contains("warm"), "the platform did not truncate the file");
        File[] reports = dir.toFile().listFiles((d, name) -> name.startsWith("hs_err"));
        return new Child(process.exitValue(), output.toString(), file, reports == null || reports.length == 0);
    }
}
