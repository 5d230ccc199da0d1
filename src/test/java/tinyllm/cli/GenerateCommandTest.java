package tinyllm.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.Fixtures;
import tinyllm.tokenizer.GPT2Tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a user sees from {@code tinyllm generate}. */
class GenerateCommandTest {

    @Test
    void showStepsPrintsTheFixtureTokensInTheStepFormat() {
        int[] expected = Fixtures.greedyTokens("vocab.greedy.txt");
        CliRun run = CliRun.of("generate", "--model", Fixtures.path("vocab.bin").toString(),
                "--text", "Once upon a time", "--max-length", "40", "--show-steps");
        assertEquals(0, run.exitCode(), run.err());

        GPT2Tokenizer tokenizer = new GPT2Tokenizer();
        List<String> steps = run.out().lines().filter(l -> l.startsWith("Step ")).toList();
        assertEquals(expected.length, steps.size(), run.out());
        for (int i = 0; i < expected.length; i++) {
            assertEquals("Step " + (i + 1) + ": Generated token " + expected[i] + " → '" + tokenizer.display(expected[i]) + "'",
                    steps.get(i));
        }
        assertEquals("Step 1: Generated token 23531 → ' sellers'", steps.get(0));
        assertTrue(run.out().contains("Prompt:    Once upon a time"), run.out());
        assertTrue(run.out().contains("Generated: " + tokenizer.decode(expected)), run.out());
    }

    @Test
    void statsLineNamesEveryFigure() {
        CliRun run = CliRun.of("generate", "--model", Fixtures.path("micro.bin").toString(),
                "--tokens", "10,200,257,499", "--max-length", "5", "--threads", "1");
        assertEquals(0, run.exitCode(), run.err());
        String stats = run.out().lines().filter(l -> l.startsWith("Stats:")).findFirst().orElseThrow();
        assertTrue(stats.matches("Stats: 4 prompt tokens, 5 new tokens, greedy, 1 threads \\| load \\d+ ms \\| warm-up wait \\d+ ms \\| prompt [\\d.]+ ms"
                + " \\| [\\d.]+ ms/token \\| [\\d.]+ tokens/s"), stats);
        assertTrue(!run.out().contains("Step "), "no steps without --show-steps");
    }

    @Test
    void tokensPromptGivesTheSameContinuationAsText() {
        String model = Fixtures.path("vocab.bin").toString();
        CliRun text = CliRun.of("generate", "--model", model, "--text", "Once upon a time", "--max-length", "8");
        CliRun ids = CliRun.of("generate", "--model", model, "--tokens", "7454,2402,257,640", "--max-length", "8");
        assertEquals(generatedLine(text), generatedLine(ids));
    }

    private static String generatedLine(CliRun run) {
        return run.out().lines().filter(l -> l.startsWith("Generated:")).findFirst().orElseThrow();
    }

    @Test
    void statsJsonHoldsTheTimings(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path json = dir.resolve("stats.json");
        CliRun run = CliRun.of("generate", "--model", Fixtures.path("micro.bin").toString(),
                "--tokens", "10,200,257", "--max-length", "6", "--threads", "2", "--stats-json", json.toString());
        assertEquals(0, run.exitCode(), run.err());
        com.fasterxml.jackson.databind.JsonNode stats = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.toFile());
        assertEquals(3, stats.get("prompt_tokens").asInt());
        assertEquals(6, stats.get("new_tokens").asInt());
        assertEquals(2, stats.get("threads").asInt());
        assertEquals(5, stats.get("decode_steps").asInt());
        // micro: L=2 C=48 V=500 maxT=64; all parameters but 12 padding rows of wte and 63 rows of wpe, in fp32.
        assertEquals((84_288L - 12 * 48 - 63 * 48) * 4, stats.get("weights_bytes_per_token").asLong());
        for (String key : new String[] {"load_ms", "warm_up_wait_ms", "prefill_ms", "decode_ms", "prefill_tokens_per_s", "decode_tokens_per_s"}) {
            assertTrue(stats.get(key).asDouble() > 0, key + " in " + stats);
        }
    }

    /**
     * A --stats-json path that cannot take a file is refused before the model is even opened (the model here does
     * not exist, and the error is about --stats-json), not after the generation it would have followed.
     */
    @Test
    void statsJsonThatCannotBeWrittenIsRefusedUpFront(@TempDir Path dir) throws Exception {
        String missingModel = dir.resolve("no-model.bin").toString();
        CliRun directory = CliRun.of("generate", "--model", missingModel, "--tokens", "1", "--stats-json", dir.toString());
        BadInputTest.assertOneLineError(1, directory, "--stats-json", "is a directory");
        assertEquals("", directory.out());

        Path file = Files.writeString(dir.resolve("notes.txt"), "a file");
        CliRun underAFile = CliRun.of("generate", "--model", missingModel, "--tokens", "1",
                "--stats-json", file.resolve("sub").resolve("stats.json").toString());
        BadInputTest.assertOneLineError(1, underAFile, "--stats-json", file + " is a file, not a directory");
        assertEquals("", underAFile.out());
    }

    /** A parent that does not exist yet is no error: the write creates it. */
    @Test
    void statsJsonCreatesItsFolder(@TempDir Path dir) {
        Path json = dir.resolve("new").resolve("folder").resolve("stats.json");
        CliRun run = CliRun.of("generate", "--model", Fixtures.path("micro.bin").toString(), "--tokens", "1", "--max-length", "2",
                "--stats-json", json.toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(Files.isRegularFile(json), json + " not written");
    }

    @Test
    void helpAndVersion() {
        CliRun help = CliRun.of("generate", "--help");
        assertEquals(0, help.exitCode());
        assertTrue(help.out().contains("--max-length") && help.out().contains("--show-steps"), help.out());
        CliRun version = CliRun.of("--version");
        assertEquals(0, version.exitCode());
        assertTrue(version.out().startsWith("tinyllm "), version.out());
    }
}
