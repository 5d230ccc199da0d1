package tinyllm;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;

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

    /**
     * A failed file operation in words: {@code io("cannot read checkpoint", path, e)} says "cannot read
     * checkpoint weights/x.bin: permission denied". Every place that opens, reads or writes a file reports
     * through this, so the user reads the same words for the same cause.
     */
    public static TinyLlmException io(String action, Path path, IOException e) {
        return new TinyLlmException(action + " " + path + ": " + reason(path, e), e);
    }

    /**
     * Why an I/O operation failed, for a user: the JDK's file exceptions carry only the path as their
     * message (an AccessDeniedException's message is the file name), so name the cause instead.
     */
    public static String reason(Path path, IOException e) {
        String words = switch (e) {
            case NoSuchFileException x -> path != null ? missing(path) : "not found";
            case AccessDeniedException x -> "permission denied";
            case NotDirectoryException x -> "not a directory";
            case FileAlreadyExistsException x -> "already exists";
            case DirectoryNotEmptyException x -> "directory not empty";
            case FileSystemException x when x.getReason() != null -> lowerFirst(x.getReason());
            case FileSystemException x -> x.getClass().getSimpleName();
            default -> e.getMessage() != null ? lowerFirst(e.getMessage()) : e.getClass().getSimpleName();
        };
        // The operation may have failed on another path than the one named (a parent folder, a rename target).
        if (e instanceof FileSystemException f && f.getFile() != null && (path == null || !Path.of(f.getFile()).equals(path))) {
            return f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "") + ": " + words;
        }
        return words;
    }

    /**
     * Whether {@code url} names an http(s) server (scheme and host): almost any string parses as a URI, and one
     * without them failed only at the first request, in the JDK's words.
     */
    public static boolean isHttpUrl(URI url) {
        String scheme = url.getScheme();
        return url.getHost() != null && ("http".equalsIgnoreCase(scheme) || "https".equalsIgnoreCase(scheme));
    }

    /**
     * Why a request to {@code url} failed, for a user: the JDK's HTTP client often throws with no message of its
     * own (a refused connection is a ConnectException whose message is null), and an unknown host is a
     * ConnectException too, told apart only by its cause.
     */
    public static String networkReason(URI url, IOException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof UnresolvedAddressException || t instanceof UnknownHostException) {
                return "cannot resolve " + url.getHost() + " (offline?)";
            }
        }
        if (e instanceof HttpConnectTimeoutException) {
            return "cannot connect to " + url.getAuthority() + ": timed out";
        }
        if (e instanceof HttpTimeoutException) {
            return "no answer from " + url.getAuthority() + " in time";
        }
        if (e instanceof ConnectException) {
            return "cannot connect to " + url.getAuthority() + " (connection refused or host unreachable)";
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null) {
                return t.getMessage();
            }
        }
        return e.getClass().getSimpleName();
    }

    /**
     * Why {@code path} is missing, for a user: "not found", or, when one of its parents exists as a file (the JDK
     * reports both as {@code NoSuchFileException}), which one is not a directory.
     */
    public static String missing(Path path) {
        for (Path parent = path.toAbsolutePath().getParent(); parent != null; parent = parent.getParent()) {
            if (java.nio.file.Files.isRegularFile(parent)) {
                return "not found: " + parent + " is a file, not a directory";
            }
        }
        return "not found";
    }

    private static String lowerFirst(String s) {
        boolean acronym = s.length() > 1 && Character.isUpperCase(s.charAt(0)) && Character.isUpperCase(s.charAt(1));
        return s.isEmpty() || acronym ? s : Character.toLowerCase(s.charAt(0)) + s.substring(1);
    }
}
