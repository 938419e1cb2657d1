package io.weightstream.registry;

import java.util.List;

/**
 * Options of the Avro serializers and deserializers ({@link AvroSerializer}, {@link AvroDeserializer} and
 * their Flink wrappers), next to the connection options of {@link RegistryOptions} in the same map.
 *
 * <pre>{@code
 * props.put("value.serializer", AvroSerializer.class.getName());
 * props.put(RegistryOptions.URL.key(), registryUrl);
 * props.put(AvroSerdeOptions.AUTO_REGISTER.key(), "false");   // production: schemas are registered by CI
 * props.put("value.deserializer", AvroDeserializer.class.getName());
 * props.put(AvroSerdeOptions.VALUE_CLASS.key(), LayerChunk.class.getName());
 * }</pre>
 */
public final class AvroSerdeOptions {
    public static final RegistryOption<Boolean> AUTO_REGISTER = RegistryOption.bool("avro.auto.register", true,
            "Whether a serializer registers its record's schema under the subject on first use; when false, the"
            + " schema must already be registered (it is looked up) or serializing fails.");
    public static final RegistryOption<String> VALUE_CLASS = RegistryOption.string("avro.value.class", null,
            "Avro SpecificRecord class a value deserializer reads into, e.g. io.weightstream.schemas.LayerChunk;"
            + " the writer's schema is resolved to it.");
    public static final RegistryOption<String> KEY_CLASS = RegistryOption.string("avro.key.class", null,
            "Avro SpecificRecord class a key deserializer reads into.");

    private static final List<RegistryOption<?>> ALL = List.of(AUTO_REGISTER, VALUE_CLASS, KEY_CLASS);

    private AvroSerdeOptions() {}

    /** Every serde option, in documentation order. */
    public static List<RegistryOption<?>> all() {
        return ALL;
    }
}
