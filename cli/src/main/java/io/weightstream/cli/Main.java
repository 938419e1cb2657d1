package io.weightstream.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code weightstream} command line: {@code ./weightstream <command> --help} describes each command.
 *
 * <pre>{@code
 * ./weightstream inspect model.onnx --sha256
 * ./weightstream stack up
 * ./weightstream publish model.onnx --model minilm --version v1 --method lossless
 * }</pre>
 */
@Command(name = "weightstream",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Streaming compression and hot-swap of neural-network checkpoints.",
        subcommands = {
                DemoCommand.class,
                BenchCommand.class,
                CompressCommand.class,
                CalibrateCommand.class,
                DecompressCommand.class,
                EvalCommand.class,
                InspectCommand.class,
                PublishCommand.class,
                JobCommand.class,
                ServeCommand.class,
                FleetCommand.class,
                GenerateCommand.class,
                TrainMnistCommand.class,
                StackCommand.class,
                CommandLine.HelpCommand.class,
        })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        CommandLine cmd = commandLine();
        return cmd.execute(args);
    }

    /** The configured command line (error handler included), for tests and embedding. */
    public static CommandLine commandLine() {
        CommandLine cmd = new CommandLine(new Main());
        cmd.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            err.println("weightstream " + commandLine.getCommandName() + ": error: " + message(ex));
            if (Boolean.getBoolean("weightstream.trace")) {
                ex.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        return cmd;
    }

    static String message(Throwable ex) {
        String m = ex.getMessage();
        Throwable root = ex;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        if (m == null || m.isBlank()) {
            m = root.getClass().getSimpleName() + (root.getMessage() != null ? ": " + root.getMessage() : "");
        }
        return m;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"weightstream " + (v != null ? v : "0.1.0-SNAPSHOT")};
        }
    }
}
