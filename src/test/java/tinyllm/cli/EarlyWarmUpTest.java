package tinyllm.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.Fixtures;
import tinyllm.api.WarmUp;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.model.DType;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * {@code main} starts the kernels' warm-up before picocli parses the command line, guessing the storage type from
 * the header of the checkpoint the arguments name: only for {@code generate}, never for help or version, and
 * never with an exception of its own (the command reports a bad model).
 */
class EarlyWarmUpTest {

    @Test
    void warmsUpTheStorageTypeOfTheNamedCheckpoint() {
        String fp32 = Fixtures.path("micro.bin").toString(), bf16 = Fixtures.path("micro-bf16.bin").toString();
        assertEarly(DType.FP32, "generate", "--model", fp32, "--text", "hi");
        assertEarly(DType.BF16, "generate", "--text", "hi", "--model=" + bf16);
        assertEarly(DType.BF16, "generate", "--model", fp32, "--model", bf16, "--text", "hi"); // the last one wins, as in picocli
    }

    @Test
    void nothingForOtherCommandsHelpOrNoCheckpoint(@TempDir Path dir) throws IOException {
        String fp32 = Fixtures.path("micro.bin").toString();
        Path notACheckpoint = Files.writeString(dir.resolve("notes.txt"), "hello");
        assertNull(GenerateCommand.earlyWarmUp(new String[0]));
        assertNull(GenerateCommand.earlyWarmUp(new String[] {"bench", "--model", fp32}));
        assertNull(GenerateCommand.earlyWarmUp(new String[] {"generate", "--model", fp32, "--help"}));
        assertNull(GenerateCommand.earlyWarmUp(new String[] {"generate", "--model", dir.resolve("missing.bin").toString()}));
        assertNull(GenerateCommand.earlyWarmUp(new String[] {"generate", "--model", notACheckpoint.toString()}));
        assertNull(GenerateCommand.earlyWarmUp(new String[] {"generate", "--model", dir.toString()}));
        assertNull(GenerateCommand.earlyWarmUp(new String[] {"generate", "--model", "a\0b"}));
        assertNull(GenerateCommand.earlyWarmUp(new String[] {"generate", "--model"}));
        assertNull(Checkpoint.storageType(notACheckpoint));
        assertEquals(DType.FP32, Checkpoint.storageType(Path.of(fp32)));
    }

    private static void assertEarly(DType expected, String... args) {
        WarmUp warmUp = GenerateCommand.earlyWarmUp(args);
        try {
            assertEquals(expected, warmUp == null ? null : warmUp.dtype(), String.join(" ", args));
        } finally {
            if (warmUp != null) warmUp.close();
        }
    }
}
