package io.weightstream.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code weightstream demo}: the end-to-end demo (a placeholder until the pipeline lands). */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "The end-to-end demo on a local stack it starts and stops itself.")
public final class DemoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new UnsupportedOperationException("demo is not built yet");
    }
}
