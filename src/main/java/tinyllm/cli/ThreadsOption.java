package tinyllm.cli;

import picocli.CommandLine.Option;

/** {@code --threads}, one declaration for every command that runs the engine (a picocli mixin). */
final class ThreadsOption {
    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all available processors).")
    Integer threads;

    /** The threads asked for, or one per available processor; {@code Model.open} checks the bound. */
    int count() {
        return threads != null ? threads : Runtime.getRuntime().availableProcessors();
    }
}
