package tinyllm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A JVM started from a test, for what one JVM cannot show of itself: its java, the Vector API module, the tests' class path. */
public final class ChildJvm {
    private ChildJvm() {}

    /** {@code java --add-modules jdk.incubator.vector FLAGS -cp CLASSPATH}: append the main class and its arguments. */
    public static List<String> command(String... flags) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector"));
        command.addAll(List.of(flags));
        command.addAll(List.of("-cp", System.getProperty("java.class.path")));
        return command;
    }

    /**
     * Runs {@code main} with {@code args} in a JVM started with {@code flags}, standard error discarded; returns its
     * standard output, stripped, after requiring that it exits 0 within {@code seconds}.
     */
    public static String output(long seconds, List<String> flags, Class<?> main, String... args) throws IOException, InterruptedException {
        List<String> command = command(flags.toArray(String[]::new));
        command.add(main.getName());
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(process.waitFor(seconds, TimeUnit.SECONDS), main.getSimpleName() + " did not finish in " + seconds + " s");
        assertEquals(0, process.exitValue(), out);
        return out;
    }
}
