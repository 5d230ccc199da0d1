package tinyllm.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.URI;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import tinyllm.TinyLlmException;
import tinyllm.api.WarmUp;
import tinyllm.kernels.Simd;

/** The {@code tinyllm} command: parses flags, runs a subcommand, turns failures into one-line errors. */
@Command(name = "tinyllm",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "GPT-2 inference on the CPU: memory-mapped llm.c checkpoints, Vector API kernels.")
public final class Main implements Runnable {
    /**
     * The subcommands by name, in the order help lists them. Building a command's model (picocli reads its
     * annotations by reflection) costs tens of milliseconds, so a run builds only the command it names:
     * all of them only when it names none (top-level help, an unknown command) or asks for {@code help}.
     */
    private static final Map<String, Class<?>> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("generate", GenerateCommand.class);
        COMMANDS.put("download", DownloadCommand.class);
        COMMANDS.put("convert", ConvertCommand.class);
        COMMANDS.put("synthetic", SyntheticCommand.class);
        COMMANDS.put("bench", BenchCommand.class);
        COMMANDS.put("serve", ServeCommand.class);
        COMMANDS.put("help", CommandLine.HelpCommand.class);
    }

    /** Exit codes: 0 done, 1 the input or the environment was wrong, 2 the command line was wrong. */
    public static final int EXIT_ERROR = 1, EXIT_USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Declared once here and inherited by every subcommand; picocli sets this field wherever it is given. */
    @CommandLine.Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "Print the stack trace with an error.")
    boolean verbose;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a command: generate, download, convert, synthetic, bench or serve");
    }

    public static void main(String[] args) {
        // UTF-8 whatever the platform charset: tokens are text from every script, and the step arrow is U+2192.
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        // Before anything else: the JIT's work on the kernels is what a short generate run waits for most.
        WarmUp early = GenerateCommand.earlyWarmUp(args);
        int code = run(args, out, err, Terminal.detect(), Path.of(GenerateCommand.DEFAULT_MODEL), null, early);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /** Runs the command line in process, as tests do; returns the exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err, Terminal terminal) {
        return run(args, out, err, terminal, Path.of(GenerateCommand.DEFAULT_MODEL), null, null);
    }

    /**
     * As above, with another default model and hub to fetch it from (tests of the first run), and a kernel
     * warm-up already started for {@code generate} (or null).
     */
    static int run(String[] args, PrintStream out, PrintStream err, Terminal terminal, Path defaultModel, URI hub, WarmUp early) {
        try {
            return execute(args, out, err, terminal, defaultModel, hub, early);
        } catch (Throwable e) {
            // Building the command line failed (a bug of ours in an annotation, say): still one line, not a trace.
            return report(e, java.util.Arrays.asList(args).contains("--verbose"), new PrintWriter(err, true));
        }
    }

    private static int execute(String[] args, PrintStream out, PrintStream err, Terminal terminal, Path defaultModel, URI hub,
                               WarmUp early) {
        Factory factory = new Factory(out, err, terminal, defaultModel, hub, early);
        Main main = new Main();
        CommandLine cli = new CommandLine(main, factory);
        for (Class<?> command : commandsFor(args)) {
            cli.addSubcommand(new CommandLine(command, factory));
        }
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        cli.setColorScheme(CommandLine.Help.defaultColorScheme(terminal.colour() ? CommandLine.Help.Ansi.ON : CommandLine.Help.Ansi.OFF));
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> report(e, main.verbose, cli.getErr()));
        cli.setParameterExceptionHandler((e, args1) -> {
            PrintWriter w = e.getCommandLine().getErr();
            String message = e.getMessage().startsWith("Error: ") ? e.getMessage().substring(7) : e.getMessage();
            w.println("error: " + message + " (see " + e.getCommandLine().getCommandName() + " --help)");
            w.flush();
            return EXIT_USAGE;
        });
        try {
            return cli.execute(args);
        } catch (Throwable e) {
            // picocli hands only Exceptions to the handler above; an Error (out of memory, a fault in a mapped
            // read) leaves execute() as it is. Both end here, in the same words.
            return report(e, main.verbose, cli.getErr());
        }
    }

    /** The one place a failure becomes output: one line, and the stack trace after it with --verbose. */
    private static int report(Throwable e, boolean verbose, PrintWriter err) {
        try {
            err.println("error: " + message(e));
            if (verbose) {
                e.printStackTrace(err);
            }
        } catch (Throwable whileReporting) {
            // Out of memory again while building the message: say the least that is true.
            err.println("error: " + e.getClass().getName());
        }
        err.flush();
        return EXIT_ERROR;
    }

    /** The subcommands a command line needs: the one it names; none for --version or nothing; else all (help, typos). */
    private static Collection<Class<?>> commandsFor(String[] args) {
        if (args.length == 0 || args[0].equals("--version") || args[0].equals("-V")) {
            return List.of();
        }
        Class<?> named = args[0].equals("help") ? null : COMMANDS.get(args[0]);
        return named != null ? List.of(named) : COMMANDS.values();
    }

    /** One line for the user: our own messages as they are, anything unexpected with its type. */
    static String message(Throwable e) {
        String message = switch (e) {
            case TinyLlmException t -> t.getMessage();
            case OutOfMemoryError o -> "out of memory (" + o.getMessage() + "): give the JVM more with JAVA_OPTS=-Xmx...";
            case UncheckedIOException u -> TinyLlmException.reason(null, u.getCause()) + " (run with --verbose for details)";
            default -> "unexpected " + e.getClass().getSimpleName() + ": " + e.getMessage() + " (run with --verbose for details)";
        };
        return message.replace('\n', ' ');
    }

    /** Subcommands get the output stream and terminal of this run, so tests can capture them. */
    private record Factory(PrintStream out, PrintStream err, Terminal terminal, Path defaultModel, URI hub, WarmUp early)
            implements CommandLine.IFactory {
        @Override
        public <K> K create(Class<K> cls) throws Exception {
            if (cls == GenerateCommand.class) return cls.cast(new GenerateCommand(out, err, terminal, defaultModel, hub, early));
            if (cls == SyntheticCommand.class) return cls.cast(new SyntheticCommand(out));
            if (cls == BenchCommand.class) return cls.cast(new BenchCommand(out));
            if (cls == ConvertCommand.class) return cls.cast(new ConvertCommand(out));
            if (cls == ServeCommand.class) return cls.cast(new ServeCommand(out));
            if (cls == ServeBenchCommand.class) return cls.cast(new ServeBenchCommand(out));
            if (cls == AccuracyBenchCommand.class) return cls.cast(new AccuracyBenchCommand(out));
            if (cls == DownloadCommand.class) return cls.cast(new DownloadCommand(out, terminal));
            return CommandLine.defaultFactory().create(cls);
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {
                "tinyllm " + Main.class.getPackage().getImplementationVersion(),
                "JVM " + System.getProperty("java.vm.name") + " " + Runtime.version()
                        + ", vectors of " + Simd.LANES + " floats (" + Simd.LANES * 32 + " bits)"
            };
        }
    }
}
