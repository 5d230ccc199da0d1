package tinyllm.convert;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpResponse;
import java.net.http.HttpRequest;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import tinyllm.TinyLlmException;

/**
 * Fetches a GPT-2 checkpoint (config.json and model.safetensors) from the Hugging Face hub.
 *
 * <p>Each file arrives as {@code NAME.part} and is renamed only once its size matches what the server
 * announced and, when the hub gives one, its sha256 matches: a file without {@code .part} is complete. An
 * interrupted download resumes with a Range request.
 */
public final class Downloader {
    /** The GPT-2 checkpoints OpenAI released, as the hub names them. */
    public static final List<String> MODELS = List.of("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl");
    static final List<String> FILES = List.of(HuggingFaceModel.CONFIG, HuggingFaceModel.SINGLE_FILE);

    private static final URI HUGGING_FACE = URI.create("https://huggingface.co");
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(20);
    /** Until the response headers arrive; the body of a 6 GB file may take as long as it needs. */
    private static final Duration HEADERS_TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-\\d+/(\\d+)");
    private static final Pattern UNSATISFIED_RANGE = Pattern.compile("bytes \\*/(\\d+)");

    private final URI hub;
    private final PrintStream out;
    private final boolean interactive;

    /** Downloads from huggingface.co, or from the mirror HF_ENDPOINT names, as the huggingface_hub library does. */
    public Downloader(PrintStream out, boolean interactive) {
        this(hubFromEnvironment(), out, interactive);
    }

    /** Downloads from {@code hub} (a mirror, or a test's local server). */
    public Downloader(URI hub, PrintStream out, boolean interactive) {
        this.hub = hub;
        this.out = out;
        this.interactive = interactive;
    }

    private static URI hubFromEnvironment() {
        String endpoint = System.getenv("HF_ENDPOINT");
        if (endpoint == null || endpoint.isBlank()) {
            return HUGGING_FACE;
        }
        // Checked before anything is written: a value without scheme or host failed only at the first request,
        // as an IllegalArgumentException that named neither the variable nor its value.
        URI hub = null;
        try {
            hub = new URI(endpoint.replaceAll("/+$", ""));
        } catch (URISyntaxException e) {
            // refused below, with the variable's name
        }
        if (hub == null || !TinyLlmException.isHttpUrl(hub)) {
            throw new TinyLlmException("HF_ENDPOINT must be an absolute http(s) URL such as " + HUGGING_FACE + ", got '" + endpoint + "'");
        }
        return hub;
    }

    /** The model's page on the hub, where its files can also be fetched by hand. */
    URI page(String model) {
        return URI.create(hub + "/openai-community/" + model);
    }

    /**
     * Downloads {@code model}'s config.json and model.safetensors into {@code folder}, skipping files
     * already complete. {@code checkpoint} is where the caller will convert them, named in error messages
     * as the route by hand.
     */
    public void download(String model, Path folder, Path checkpoint) {
        String byHand = "; to do it by hand, download " + String.join(" and ", FILES) + " from " + page(model)
                + " into " + folder + " and run: ./tinyllm convert " + folder + " --out " + checkpoint;
        try (HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(CONNECT_TIMEOUT).build()) {
            Files.createDirectories(folder);
            for (String file : FILES) {
                fetch(client, URI.create(page(model) + "/resolve/main/" + file), folder.resolve(file), byHand);
            }
        } catch (IOException e) {
            throw TinyLlmException.io("cannot write into", folder, e);
        }
    }

    private void fetch(HttpClient client, URI url, Path target, String byHand) throws IOException {
        String name = target.getFileName().toString();
        if (Files.isRegularFile(target)) {
            out.println(name + ": already downloaded to " + target);
            return;
        }
        Path part = target.resolveSibling(name + ".part");
        long have = Files.isRegularFile(part) ? Files.size(part) : 0;
        HttpRequest.Builder request = HttpRequest.newBuilder(url).timeout(HEADERS_TIMEOUT).header("User-Agent", "tinyllm");
        if (have > 0) {
            request.header("Range", "bytes=" + have + "-");
        }
        HttpResponse<InputStream> response = send(client, request.build(), url, byHand);
        long total;
        try (InputStream body = response.body()) {
            total = switch (response.statusCode()) {
                case 200 -> {
                    if (have > 0) {
                        out.println(name + ": the server does not resume downloads, starting over");
                    }
                    long length = response.headers().firstValueAsLong("Content-Length").orElse(-1);
                    copy(body, url, part, 0, length, byHand);
                    yield length;
                }
                case 206 -> {
                    long length = resumedTotal(response, url, part, have);
                    copy(body, url, part, have, length, byHand);
                    yield length;
                }
                case 416 -> completeTotal(response, url, part, have);
                default -> throw new TinyLlmException("cannot download " + url + ": HTTP " + response.statusCode() + byHand);
            };
        }
        requireSize(url, part, total, byHand);
        requireAnnouncedSha256(response, url, part);
        Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The full size a 206 announces, once its range is checked to start exactly where {@code part} ends. */
    private static long resumedTotal(HttpResponse<?> response, URI url, Path part, long have) throws IOException {
        String contentRange = response.headers().firstValue("Content-Range").orElse("");
        Matcher range = CONTENT_RANGE.matcher(contentRange);
        if (!range.matches() || Long.parseLong(range.group(1)) != have) {
            Files.deleteIfExists(part);
            throw new TinyLlmException(url + " answered the resume request with range '" + contentRange + "'; "
                    + part + " was deleted: run the command again");
        }
        return Long.parseLong(range.group(2));
    }

    /** A 416 says {@code part} reaches the end of the file: complete, unless it is longer than the file. */
    private static long completeTotal(HttpResponse<?> response, URI url, Path part, long have) throws IOException {
        Matcher range = UNSATISFIED_RANGE.matcher(response.headers().firstValue("Content-Range").orElse(""));
        long total = range.matches() ? Long.parseLong(range.group(1)) : -1;
        if (total != have) {
            Files.deleteIfExists(part);
            throw new TinyLlmException(part + " does not match " + url + " and was deleted: run the command again");
        }
        return total;
    }

    /** Short: the connection ended early, keep it to resume. Long: it is not this file, delete it. */
    private static void requireSize(URI url, Path part, long total, String byHand) throws IOException {
        long size = Files.size(part);
        if (total >= 0 && size != total) {
            if (size > total) {
                Files.deleteIfExists(part);
            }
            throw new TinyLlmException("download of " + url + " stopped at " + size + " of " + total + " bytes"
                    + (size < total ? ": run the command again to resume" : "; " + part + " was deleted") + byHand);
        }
    }

    private static void requireAnnouncedSha256(HttpResponse<?> response, URI url, Path part) throws IOException {
        Optional<String> expected = announcedSha256(response);
        if (expected.isPresent()) {
            String actual = sha256(part);
            if (!actual.equals(expected.get())) {
                Files.deleteIfExists(part);
                throw new TinyLlmException(part.getFileName() + " from " + url + " has sha256 " + actual
                        + ", the hub announced " + expected.get() + ": the corrupt download was deleted, run the command again");
            }
        }
    }

    private HttpResponse<InputStream> send(HttpClient client, HttpRequest request, URI url, String byHand) {
        try {
            return client.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new TinyLlmException("cannot download " + url + ": " + reason(e, url) + byHand, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TinyLlmException("download of " + url + " interrupted", e);
        }
    }

    /** Streams the body into {@code part}, appending from {@code start}; a network failure keeps what arrived. */
    private void copy(InputStream body, URI url, Path part, long start, long total, String byHand) throws IOException {
        String name = part.getFileName().toString().replaceFirst("\\.part$", "");
        out.println(name + ": " + (start > 0 ? "resuming at " + start / 1_000_000 + " MB of " : "downloading ") + url);
        DownloadProgress progress = new DownloadProgress(out, interactive, name, start, total);
        StandardOpenOption mode = start > 0 ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING;
        try (FileChannel channel = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE, mode)) {
            byte[] chunk = new byte[1 << 16];
            long bytes = start;
            for (int n; (n = read(body, chunk, url, bytes, byHand)) >= 0; ) {
                ByteBuffer buffer = ByteBuffer.wrap(chunk, 0, n);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                bytes += n;
                progress.update(bytes);
            }
            progress.finish(bytes);
        }
    }

    private static int read(InputStream body, byte[] chunk, URI url, long bytes, String byHand) {
        try {
            return body.read(chunk);
        } catch (IOException e) {
            throw new TinyLlmException("download of " + url + " broke off after " + bytes / 1_000_000 + " MB ("
                    + reason(e, url) + "): run the command again to resume" + byHand, e);
        }
    }

    /** A 416 carries the full size as {@code Content-Range: bytes *}{@code /SIZE}. */
    private static long unsatisfiedRangeTotal(HttpResponse<?> response) {
        Matcher range = UNSATISFIED_RANGE.matcher(response.headers().firstValue("Content-Range").orElse(""));
        return range.matches() ? Long.parseLong(range.group(1)) : -1;
    }

    /**
     * The sha256 the hub announces for an LFS file: {@code X-Linked-Etag} on its redirect to the CDN, or the
     * hub's own {@code ETag} when it serves the file itself. Other ETags (git blob sha1s, CDN hashes) are
     * not sha256 and are ignored.
     */
    static Optional<String> announcedSha256(HttpResponse<?> response) {
        HttpResponse<?> hubResponse = response;
        for (HttpResponse<?> r = response; r != null; r = r.previousResponse().orElse(null)) {
            Optional<String> linked = sha256Tag(r.headers().firstValue("X-Linked-Etag"));
            if (linked.isPresent()) {
                return linked;
            }
            hubResponse = r;
        }
        return sha256Tag(hubResponse.headers().firstValue("ETag"));
    }

    private static Optional<String> sha256Tag(Optional<String> etag) {
        return etag.map(tag -> tag.replaceFirst("^W/", "").replace("\"", "").toLowerCase(Locale.ROOT))
                .filter(tag -> SHA256.matcher(tag).matches());
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] chunk = new byte[1 << 20];
            for (int n; (n = in.read(chunk)) >= 0; ) {
                digest.update(chunk, 0, n);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** What went wrong on the network, in words; the timeouts with this downloader's own. */
    private static String reason(IOException e, URI url) {
        if (e instanceof HttpConnectTimeoutException) {
            return "cannot connect to " + url.getAuthority() + " within " + CONNECT_TIMEOUT.toSeconds() + " s";
        }
        if (e instanceof HttpTimeoutException) {
            return "no answer from " + url.getHost() + " within " + HEADERS_TIMEOUT.toSeconds() + " s";
        }
        return TinyLlmException.networkReason(url, e);
    }
}
