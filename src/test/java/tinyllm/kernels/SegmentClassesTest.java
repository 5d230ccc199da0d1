package tinyllm.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;

import jdk.incubator.vector.FloatVector;

import tinyllm.ChildJvm;

/**
 * The JDK's heap segment classes are all loaded once the kernels are ({@link Simd}'s initialiser), so the
 * first heap segment of a new kind cannot invalidate compiled kernels later. On a cold CLI run it did: the
 * Vector API's interpreted fallback made the first byte[] segment at step ~10, and every compiled kernel
 * went back to the interpreter at once. A fresh JVM is needed to see what is loaded when; the control runs
 * the same probe without the kernels and must find the classes missing, so this check can fail.
 */
class SegmentClassesTest {
    private static final List<String> KINDS = List.of("OfByte", "OfChar", "OfShort", "OfInt", "OfFloat", "OfLong", "OfDouble");

    @Test
    void loadingTheKernelsLoadsEveryHeapSegmentClass() throws Exception {
        assertEquals(new TreeSet<>(KINDS), heapSegmentClassesLoadedBy("kernels"));
    }

    @Test
    void controlWithoutTheKernelsTheyAreNotLoaded() throws Exception {
        Set<String> loaded = heapSegmentClassesLoadedBy("vectors");
        assertTrue(!loaded.contains("OfByte"), "the Vector API alone loaded " + loaded + ": this check cannot tell");
    }

    /** The HeapMemorySegmentImpl kinds loaded by the time the probe's work is done, in a child JVM. */
    private static Set<String> heapSegmentClassesLoadedBy(String work) throws IOException, InterruptedException {
        String out = ChildJvm.output(60, List.of("-Xlog:class+load=info:stdout"), Probe.class, work);
        assertTrue(out.contains(Probe.DONE), "no marker in the probe's output:\n" + out);
        Set<String> loaded = new TreeSet<>();
        for (String line : out.substring(0, out.indexOf(Probe.DONE)).split("\n")) {
            for (String kind : KINDS) {
                if (line.contains("jdk.internal.foreign.HeapMemorySegmentImpl$" + kind + " ")) loaded.add(kind);
            }
        }
        return loaded;
    }

    /** Initialises the kernels (or only the Vector API), then prints {@link #DONE}. */
    public static final class Probe {
        static final String DONE = "PROBE-DONE";

        public static void main(String[] args) {
            int lanes = args[0].equals("kernels") ? Simd.LANES : FloatVector.SPECIES_PREFERRED.length();
            System.out.println(DONE + " " + lanes);
        }
    }
}
