package tinyllm.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class EngineBenchTest {
    private static final long MS = 1_000_000;

    @Test
    void theMeanCountsAStalledStepThatTheMedianLeavesOut() {
        long[] steps = {10 * MS, 10 * MS, 10 * MS, 100 * MS, 10 * MS, 10 * MS, 10 * MS, 10 * MS};
        assertEquals(100, EngineBench.decodeTokensPerSecond(steps, 0, 4, 8), 1e-9);
        assertEquals(8 / 0.17, EngineBench.meanTokensPerSecond(steps), 1e-9);
        assertEquals(1, EngineBench.stalledSteps(steps));
    }

    @Test
    void stepsWithinThreeTimesTheMedianAreNotStalls() {
        long[] steps = {10 * MS, 12 * MS, 30 * MS, 11 * MS};
        assertEquals(0, EngineBench.stalledSteps(steps));
    }
}
