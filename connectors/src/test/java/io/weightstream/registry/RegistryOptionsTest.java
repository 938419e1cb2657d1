package io.weightstream.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.kafka.common.config.types.Password;
import org.junit.jupiter.api.Test;

class RegistryOptionsTest {

    private static List<RegistryOption<?>> everyOption() {
        return Stream.concat(RegistryOptions.all().stream(), AvroSerdeOptions.all().stream()).toList();
    }

    @Test
    void everyOptionHasAUniqueKeyAndADescription() {
        Set<String> keys = new HashSet<>();
        for (RegistryOption<?> option : everyOption()) {
            assertThat(keys.add(option.key())).as("duplicate key %s", option.key()).isTrue();
            assertThat(option.key()).matches("(registry|avro)\\.[a-z.]+");
            assertThat(option.description()).as(option.key()).hasSizeGreaterThan(20);
        }
        assertThat(keys).contains("registry.url", "registry.basic.auth.user", "registry.basic.auth.password",
                "registry.tls.truststore.path", "registry.tls.truststore.password", "registry.tls.truststore.type",
                "registry.tls.keystore.path", "registry.tls.keystore.password", "registry.tls.keystore.type",
                "registry.timeout.ms", "avro.auto.register", "avro.value.class", "avro.key.class");
    }

    @Test
    void markdownTableListsEveryOptionWithItsDefault() {
        String table = RegistryOptions.markdownTable(everyOption());
        for (RegistryOption<?> option : everyOption()) {
            assertThat(table).contains("| `" + option.key() + "` |");
        }
        assertThat(table).contains("| `registry.timeout.ms` | `30000` |").contains("| `avro.auto.register` | `true` |");
        assertThat(table.lines().count()).isEqualTo(everyOption().size() + 2);
    }

    @Test
    void valuesAreParsedFromStringsNumbersAndKafkaPasswords() {
        assertThat(RegistryOptions.TIMEOUT_MS.get(Map.of("registry.timeout.ms", " 1500 "))).isEqualTo(1500L);
        assertThat(RegistryOptions.TIMEOUT_MS.get(Map.of("registry.timeout.ms", 2500))).isEqualTo(2500L);
        assertThat(RegistryOptions.TIMEOUT_MS.get(Map.of())).isEqualTo(30_000L);
        assertThat(AvroSerdeOptions.AUTO_REGISTER.get(Map.of("avro.auto.register", "FALSE"))).isFalse();
        assertThat(AvroSerdeOptions.AUTO_REGISTER.get(Map.of("avro.auto.register", false))).isFalse();
        assertThat(AvroSerdeOptions.AUTO_REGISTER.get(Map.of("avro.auto.register", ""))).isTrue();
        assertThat(RegistryOptions.BASIC_AUTH_PASSWORD.get(Map.of("registry.basic.auth.password", new Password("s3cret"))))
                .isEqualTo("s3cret");
        assertThat(RegistryOptions.TRUSTSTORE_TYPE.get(Map.of())).isEqualTo("PKCS12");
        assertThat(RegistryOptions.URL.get(Map.of("registry.url", "  "))).isNull();
        assertThat(RegistryOptions.URL.isSet(Map.of("registry.url", "  "))).isFalse();
        assertThat(RegistryOptions.BASIC_AUTH_PASSWORD.isSecret()).isTrue();
        assertThat(RegistryOptions.URL.isSecret()).isFalse();
    }

    @Test
    void wronglyTypedValuesAreRejectedNamingTheKey() {
        assertThatThrownBy(() -> RegistryOptions.TIMEOUT_MS.get(Map.of("registry.timeout.ms", "10s")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("registry.timeout.ms must be an integer, got '10s'");
        assertThatThrownBy(() -> AvroSerdeOptions.AUTO_REGISTER.get(Map.of("avro.auto.register", "yes")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("avro.auto.register must be true or false, got 'yes'");
    }
}
