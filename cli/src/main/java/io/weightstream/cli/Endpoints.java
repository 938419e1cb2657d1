package io.weightstream.cli;

import io.weightstream.registry.SchemaRegistryClient;
import io.weightstream.stack.LocalStack;
import io.weightstream.stack.StackInfo;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * The Kafka and schema-registry endpoints of a command: given explicitly, or those of the running local stack
 * ({@code ./weightstream stack up}).
 */
final class Endpoints {
    @Option(names = "--bootstrap", paramLabel = "HOST:PORT",
            description = "Kafka bootstrap servers (default: the running local stack's).")
    String bootstrap;

    @Option(names = "--registry", paramLabel = "URL",
            description = "Schema registry URL, Confluent REST API (default: the running local stack's).")
    String registry;

    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "State directory of the local stack (default: .stack in the checkout, or $WEIGHTSTREAM_HOME/stack).")
    Path stateDir;

    private StackInfo stack() {
        LocalStack local = stateDir != null ? LocalStack.at(stateDir) : LocalStack.atDefault();
        return local.require();
    }

    String bootstrapServers() {
        return bootstrap != null ? bootstrap : stack().bootstrapServers();
    }

    String registryUrl() {
        return registry != null ? registry : stack().registryUrl();
    }

    Optional<String> explicitRegistry() {
        return Optional.ofNullable(registry);
    }

    SchemaRegistryClient registryClient() {
        return SchemaRegistryClient.builder().url(registryUrl()).build();
    }
}
