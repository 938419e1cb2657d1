/**
 * Schema registry client and Avro serdes: {@link io.weightstream.registry.SchemaRegistryClient} speaks the
 * Confluent REST API (Confluent, Apicurio's {@code /apis/ccompat/v7}, Karapace, Redpanda);
 * {@link io.weightstream.registry.AvroSerializer} / {@link io.weightstream.registry.AvroDeserializer} and their
 * Flink wrappers write and read the Confluent wire format ({@link io.weightstream.registry.ConfluentWireFormat}).
 * Options: {@link io.weightstream.registry.RegistryOptions}, {@link io.weightstream.registry.AvroSerdeOptions}.
 */
package io.weightstream.registry;
