package tinyllm.api;

import java.nio.charset.StandardCharsets;
import java.util.List;

import tinyllm.TinyLlmException;

/**
 * Watches streamed text for stop strings: fed the text's bytes as they come, it says when the text ends with one.
 * It keeps only the last bytes, as many as the longest stop string, in a ring made once: feeding allocates nothing.
 */
public final class StopStrings {
    private final byte[][] stops;
    private final byte[] recent;   // the last bytes of text, as a ring
    private int recentEnd;
    private long recentCount;
    private int matched;

    /** @param stopStrings none (an empty list) watches for nothing; each must be non-empty */
    public StopStrings(List<String> stopStrings) {
        this.stops = new byte[stopStrings.size()][];
        int longest = 1;
        for (int i = 0; i < stops.length; i++) {
            if (stopStrings.get(i).isEmpty()) {
                throw new TinyLlmException("a stop string cannot be empty");
            }
            // Strictly: getBytes would turn a lone surrogate into '?', and the stop string would silently be another.
            try {
                var bytes = StandardCharsets.UTF_8.newEncoder().encode(java.nio.CharBuffer.wrap(stopStrings.get(i)));
                stops[i] = java.util.Arrays.copyOf(bytes.array(), bytes.limit());
            } catch (java.nio.charset.CharacterCodingException e) {
                throw new TinyLlmException("stop string " + (i + 1) + " is not text UTF-8 can carry (a lone UTF-16 surrogate?)");
            }
            longest = Math.max(longest, stops[i].length);
        }
        this.recent = new byte[longest];
    }

    /** Forgets the text, for a new one. */
    public void reset() {
        recentCount = 0;
        matched = 0;
    }

    /**
     * Feeds bytes[offset .. offset+count) and stops at the first byte that completes a stop string.
     *
     * @return how many of the bytes were fed up to and including the end of that stop string, or -1 if the text
     *         does not end with one anywhere in them (then all were fed)
     */
    public int feed(byte[] bytes, int offset, int count) {
        for (int i = 0; i < count; i++) {
            recent[recentEnd] = bytes[offset + i];
            recentEnd = (recentEnd + 1) % recent.length;
            recentCount++;
            for (byte[] stop : stops) {
                if (endsWith(stop, stop.length)) {
                    matched = stop.length;
                    return i + 1;
                }
            }
        }
        return -1;
    }

    /** The byte length of the stop string the last successful {@link #feed} found. */
    public int matchedLength() {
        return matched;
    }

    /**
     * How many of the last bytes fed could be the start of a stop string still to come: the longest suffix of
     * the text that is a proper prefix of one. A stream that must not show stop strings holds these back.
     */
    public int pendingPrefix() {
        int longest = 0;
        for (byte[] stop : stops) {
            for (int k = Math.min(stop.length - 1, (int) Math.min(recentCount, recent.length)); k > longest; k--) {
                if (suffixIs(stop, k)) {
                    longest = k;
                    break;
                }
            }
        }
        return longest;
    }

    private boolean endsWith(byte[] stop, int length) {
        return recentCount >= length && suffixIs(stop, length);
    }

    /** The last {@code k} bytes fed equal stop[0 .. k). */
    private boolean suffixIs(byte[] stop, int k) {
        for (int j = 1; j <= k; j++) {
            if (recent[Math.floorMod(recentEnd - j, recent.length)] != stop[k - j]) {
                return false;
            }
        }
        return true;
    }
}
