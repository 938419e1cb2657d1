package io.weightstream.decoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DecoderServiceOptionsTest {
    @Test
    void everyOptionHasAUniqueKeyAndIsDocumented() {
        Set<String> keys = new HashSet<>();
        String table = DecoderServiceOptions.markdownTable();
        for (DecoderServiceOptions.Option<?> o : DecoderServiceOptions.all()) {
            assertThat(keys.add(o.key())).as(o.key()).isTrue();
            assertThat(table).contains("`" + o.key() + "`");
            assertThat(o.description()).isNotBlank();
        }
    }

    @Test
    void valuesAreParsedByTypeAndBadOnesNamed() {
        Map<String, Object> config = Map.of("keep.versions", " 5 ", "staging.budget.bytes", 1L << 20, "http.port", "");
        assertThat(DecoderServiceOptions.KEEP_VERSIONS.get(config)).isEqualTo(5);
        assertThat(DecoderServiceOptions.STAGING_BUDGET_BYTES.get(config)).isEqualTo(1L << 20);
        assertThat(DecoderServiceOptions.HTTP_PORT.get(config)).isEqualTo(8090);
        assertThatThrownBy(() -> DecoderServiceOptions.KEEP_VERSIONS.get(Map.of("keep.versions", "three")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("keep.versions");
    }

    @Test
    void startRefusesMissingAndWrongSettingsAllAtOnce() {
        assertThatThrownBy(() -> DecoderService.builder().replicaId("r 1").keepVersions(0).httpPort(70000).start())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bootstrap.servers is not set")
                .hasMessageContaining("registry.url is not set")
                .hasMessageContaining("replica.id must be")
                .hasMessageContaining("repository.dir is not set")
                .hasMessageContaining("keep.versions must be at least 1")
                .hasMessageContaining("http.port must be in");
        assertThatThrownBy(() -> DecoderService.builder().configure(Map.of("no.such.option", "x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no.such.option");
        assertThatThrownBy(() -> DecoderService.builder().repositoryDir(Path.of("r"))
                .configure(Map.of("decode.threads", "0", "replica.id", "ok", "bootstrap.servers", "x:1",
                        "registry.url", "http://x")).start())
                .hasMessageContaining("decode.threads must be at least 1");
    }
}
