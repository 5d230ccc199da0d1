package tinyllm.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * Whether output goes to a person's terminal (colour) or to a pipe or file (plain text), and whether a
 * person can be asked something: {@code keyboard} is their input when standard input and output are a
 * terminal, else null (a script, a pipe, CI), and then nothing is asked.
 */
public record Terminal(boolean colour, BufferedReader keyboard) {
    public static final Terminal PLAIN = new Terminal(false, null);

    /** Colour only on an interactive terminal, and never when NO_COLOR is set (no-color.org). */
    public static Terminal detect() {
        String noColor = System.getenv("NO_COLOR");
        boolean tty = System.console() != null && System.console().isTerminal();
        return new Terminal(tty && (noColor == null || noColor.isEmpty()),
                tty ? new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)) : null);
    }

    /** Asks a yes/no question, yes by default; no answer (end of input) is no. */
    boolean confirm(java.io.PrintStream to, String question) {
        to.print(question + " [Y/n] ");
        to.flush();
        try {
            String answer = keyboard.readLine();
            to.println();
            return answer != null && (answer.isBlank() || answer.trim().toLowerCase(java.util.Locale.ROOT).startsWith("y"));
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
