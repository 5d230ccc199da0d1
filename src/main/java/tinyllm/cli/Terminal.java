package tinyllm.cli;

/** Whether output goes to a person's terminal (colour) or to a pipe or file (plain text). */
public record Terminal(boolean colour) {
    public static final Terminal PLAIN = new Terminal(false);

    /** Colour only on an interactive terminal, and never when NO_COLOR is set (no-color.org). */
    public static Terminal detect() {
        String noColor = System.getenv("NO_COLOR");
        boolean tty = System.console() != null && System.console().isTerminal();
        return new Terminal(tty && (noColor == null || noColor.isEmpty()));
    }
}
