package tinyllm.convert;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import tinyllm.TinyLlmException;
import tinyllm.model.BFloat16;

/**
 * A safetensors file, mapped read-only: an 8-byte little-endian header length N, N bytes of JSON
 * ({@code {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}}),
 * then the data, with offsets counted from the first byte after the header.
 *
 * <p>Every entry is checked against the file before any tensor is read, so a corrupt header fails
 * here with its name rather than as a fault deep in the conversion.
 */
final class Safetensors {
    /** The reference implementation's limit: a larger header is a corrupt length field, not a real file. */
    static final long MAX_HEADER_BYTES = 100_000_000;

    static final JsonMapper JSON = JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    /** The element types the converter reads, all widened to fp32 exactly. */
    enum Encoding {
        F32(4), F16(2), BF16(2);

        // Safetensors data is little-endian whatever the platform, and offsets need not be aligned.
        private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        final int bytes;

        Encoding(int bytes) {
            this.bytes = bytes;
        }

        float read(MemorySegment data, long index) {
            return switch (this) {
                case F32 -> data.getAtIndex(FLOAT, index);
                case F16 -> Float.float16ToFloat(data.getAtIndex(SHORT, index));
                case BF16 -> BFloat16.toFloat(data.getAtIndex(SHORT, index));
            };
        }

        /** The encoding of a safetensors dtype string, or null for one the converter does not read. */
        static Encoding of(String dtype) {
            return Arrays.stream(values()).filter(e -> e.name().equals(dtype)).findFirst().orElse(null);
        }
    }

    /**
     * One tensor of the file.
     *
     * @param dtype the safetensors dtype string, as written (F32, F16, BF16, or anything else)
     * @param data  the tensor's bytes, a slice of the file's mapping
     */
    record Tensor(Path file, String name, String dtype, long[] shape, MemorySegment data) {
        long elements() {
            return Arrays.stream(shape).reduce(1, Math::multiplyExact);
        }

        /** The encoding to read this tensor with. */
        Encoding encoding() {
            Encoding encoding = Encoding.of(dtype);
            if (encoding == null) {
                throw new TinyLlmException("tensor " + name + " in " + file + " has dtype " + dtype
                        + ": tinyllm converts F32, F16 and BF16");
            }
            return encoding;
        }
    }

    private Safetensors() {}

    /**
     * Maps {@code file} into {@code arena} and reads and checks its header.
     *
     * @return the tensors by name, in header order
     */
    static Map<String, Tensor> open(Path file, Arena arena) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return parse(file, channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena));
        } catch (NoSuchFileException e) {
            throw new TinyLlmException("safetensors file not found: " + file);
        } catch (IOException e) {
            throw TinyLlmException.io("cannot read", file, e);
        }
    }

    /**
     * Reads and checks the header of a safetensors file's bytes (mapped, or in memory): every entry's dtype, shape
     * and offsets against the file, no two tensors sharing a byte.
     *
     * @param file    named in the messages
     * @param content the whole file
     * @return the tensors by name, in header order, their data slices of {@code content}
     */
    static Map<String, Tensor> parse(Path file, MemorySegment content) {
        long fileSize = content.byteSize();
        if (fileSize < Long.BYTES) {
            throw corrupt(file, "it has " + fileSize + " bytes, too short for the 8-byte header length");
        }
        long headerBytes = content.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerBytes < 2 || headerBytes > MAX_HEADER_BYTES || headerBytes > fileSize - Long.BYTES) {
            throw corrupt(file, "its header length field says " + headerBytes + " bytes, the file has " + fileSize);
        }
        JsonNode header = parseHeader(file, content.asSlice(Long.BYTES, headerBytes).toArray(ValueLayout.JAVA_BYTE));
        return tensors(file, header, content.asSlice(Long.BYTES + headerBytes));
    }

    private static JsonNode parseHeader(Path file, byte[] json) {
        try {
            JsonNode header = JSON.readTree(json);
            if (header == null || !header.isObject()) {
                throw corrupt(file, "its header is not a JSON object");
            }
            return header;
        } catch (JacksonException e) {
            throw corrupt(file, "its header is not valid JSON (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw corrupt(file, "its header cannot be read (" + e.getMessage() + ")");
        }
    }

    private static Map<String, Tensor> tensors(Path file, JsonNode header, MemorySegment data) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        List<long[]> ranges = new ArrayList<>();
        for (Map.Entry<String, JsonNode> entry : header.properties()) {
            String name = entry.getKey();
            if (name.equals("__metadata__")) {
                continue;
            }
            JsonNode node = entry.getValue();
            JsonNode offsets = node.path("data_offsets");
            if (!node.path("dtype").isTextual() || !isCountArray(node.path("shape")) || !isCountArray(offsets) || offsets.size() != 2) {
                throw corrupt(file, "its header entry '" + name + "' is malformed: it needs a dtype, a shape and"
                        + " two data_offsets, all counts non-negative integers");
            }
            String dtype = node.get("dtype").asText();
            long[] shape = counts(node.get("shape"));
            long begin = offsets.get(0).asLong(), end = offsets.get(1).asLong();
            if (end < begin || end > data.byteSize()) {
                throw corrupt(file, "tensor " + name + " claims bytes " + begin + ".." + end + " of a "
                        + data.byteSize() + "-byte data section");
            }
            Tensor tensor = new Tensor(file, name, dtype, shape, data.asSlice(begin, end - begin));
            Encoding encoding = Encoding.of(dtype);
            if (encoding != null && byteSize(tensor, encoding) != end - begin) {
                throw corrupt(file, "tensor " + name + " of shape " + Arrays.toString(shape) + " " + dtype
                        + " needs " + byteSize(tensor, encoding) + " bytes, its offsets span " + (end - begin));
            }
            tensors.put(name, tensor);
            ranges.add(new long[] {begin, end});
        }
        requireDisjoint(file, ranges);
        return tensors;
    }

    private static long byteSize(Tensor tensor, Encoding encoding) {
        try {
            return Math.multiplyExact(tensor.elements(), encoding.bytes);
        } catch (ArithmeticException e) {
            throw corrupt(tensor.file(), "tensor " + tensor.name() + " has an absurd shape " + Arrays.toString(tensor.shape()));
        }
    }

    /** Two tensors sharing bytes means a corrupt header: one of them would read the other's data. */
    private static void requireDisjoint(Path file, List<long[]> ranges) {
        ranges.sort(Comparator.comparingLong((long[] r) -> r[0]).thenComparingLong(r -> r[1]));
        for (int i = 1; i < ranges.size(); i++) {
            long[] previous = ranges.get(i - 1), range = ranges.get(i);
            if (range[0] < previous[1]) {
                throw corrupt(file, "tensors overlap: bytes " + previous[0] + ".." + previous[1] + " and "
                        + range[0] + ".." + range[1]);
            }
        }
    }

    private static boolean isCountArray(JsonNode node) {
        if (!node.isArray()) return false;
        for (JsonNode n : node) {
            if (!n.canConvertToExactIntegral() || !n.canConvertToLong() || n.asLong() < 0) return false;
        }
        return true;
    }

    private static long[] counts(JsonNode array) {
        long[] values = new long[array.size()];
        for (int i = 0; i < values.length; i++) values[i] = array.get(i).asLong();
        return values;
    }

    private static TinyLlmException corrupt(Path file, String why) {
        return new TinyLlmException(file + " is not a valid safetensors file: " + why);
    }
}
