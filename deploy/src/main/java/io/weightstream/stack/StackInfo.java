package io.weightstream.stack;

import java.nio.file.Path;

/**
 * The addresses of a running local stack, for the code that talks to it (publisher, job, decoder, demo).
 *
 * <pre>{@code
 * StackInfo stack = LocalStack.atDefault().require();     // throws when no stack runs, saying how to start one
 * props.put("bootstrap.servers", stack.bootstrapServers());
 * SchemaRegistry registry = new SchemaRegistryClient(stack.registryUrl());
 * }</pre>
 *
 * @param bootstrapServers the Kafka clients' {@code bootstrap.servers}, e.g. {@code 127.0.0.1:40123}
 * @param registryUrl      the Confluent-compatible REST base URL, e.g. {@code http://127.0.0.1:40124/apis/ccompat/v7}
 * @param kafkaPort        the broker's client port
 * @param registryPort     the registry's HTTP port
 * @param kafkaPid         the broker's process id
 * @param registryPid      the registry's process id
 * @param stateDir         the state directory (PID files, {@code stack.properties}, logs, data)
 */
public record StackInfo(String bootstrapServers, String registryUrl, int kafkaPort, int registryPort, long kafkaPid,
        long registryPid, Path stateDir) {
}
