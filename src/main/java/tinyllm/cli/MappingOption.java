package tinyllm.cli;

import picocli.CommandLine.Option;

/** {@code --no-mmap}, one declaration for every command that loads a model (a picocli mixin). */
final class MappingOption {
    @Option(names = "--no-mmap", description = "Read the checkpoint into memory instead of mapping it: slower to start,"
            + " but the file may then change while it runs.")
    boolean noMmap;

    /** Whether to map the checkpoint (the default) rather than read it into memory. */
    boolean map() {
        return !noMmap;
    }
}
