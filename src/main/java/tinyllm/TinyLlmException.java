package tinyllm;

/**
 * A problem the user can act on: a missing or corrupt checkpoint, a prompt that does not fit, a bad
 * flag. The message is one line, written for the user; the CLI prints it without a stack trace.
 */
public final class TinyLlmException extends RuntimeException {
    public TinyLlmException(String message) {
        super(message);
    }

    public TinyLlmException(String message, Throwable cause) {
        super(message, cause);
    }
}
