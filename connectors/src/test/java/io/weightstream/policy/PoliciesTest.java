package io.weightstream.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weightstream.schemas.CompressionPolicy;
import io.weightstream.schemas.PolicyRule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PoliciesTest {
    @TempDir
    Path tmp;

    /** The example of POLICY.md, which must stay a valid policy. */
    private static String documentedExample() throws IOException {
        String md = Files.readString(Path.of("POLICY.md"));
        int start = md.indexOf("```json\n") + "```json\n".length();
        return md.substring(start, md.indexOf("```", start));
    }

    @Test
    void theDocumentedExampleReadsToTheExpectedRecord() throws IOException {
        Path file = tmp.resolve("policy.json");
        Files.writeString(file, documentedExample());
        CompressionPolicy p = Policies.read(file);
        assertThat(p.getDefaultMethod()).isEqualTo("rtn");
        assertThat(p.getDefaultParams()).containsExactly(Map.entry("bits", "8"));
        assertThat(p.getRules()).extracting(PolicyRule::getPattern)
                .containsExactly("embeddings.word_embeddings.weight", "*attention/self/*", "*/intermediate/*");
        assertThat(p.getRules().get(0).getParams()).containsEntry("entropy", "true").containsEntry("axis", "first");
        assertThat(p.getRules().get(2).getParams()).containsEntry("sparsity", "0.3");
        assertThat(p.getKeepMethod()).isEqualTo("lossless");
        assertThat(p.getKeepUnderBytes()).isEqualTo(4096);
        assertThat(p.getMaxRelL2()).isEqualTo(0.05);
        assertThat(p.getFallbackMethods()).containsExactly("rtn:bits=8", "rtn:bits=8,entropy=true");
        // and JSON written back reads to the same record
        assertThat(Policies.parse(Policies.toJson(p), "round trip")).isEqualTo(p);
    }

    @Test
    void aMinimalFileTakesTheAvroDefaults() {
        CompressionPolicy p = Policies.parse("{\"defaultMethod\": \"rtn\"}", null);
        assertThat(p).isEqualTo(Policies.of("rtn", Map.of()));
        assertThat(p.getKeepMethod()).isEqualTo("lossless");
        assertThat(p.getKeepOneDimensional()).isTrue();
        assertThat(p.getKeepUnderBytes()).isZero();
        assertThat(p.getMaxRelL2()).isNull();
        assertThat(p.getRules()).isEmpty();
        assertThat(p.getFallbackMethods()).isEmpty();
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        String json = """
                {
                  "defaultMethod": "rtn",
                  "defaultParams": {"bits": 9, "colour": "blue"},
                  "rules": [
                    {"pattern": "*query*", "method": "rtm"},
                    {"pattern": "", "method": "prune", "params": {"sparsity": "lots"}},
                    {"method": "rtn", "params": {"bits": [8]}}
                  ],
                  "keepMethod": "rtn",
                  "keepUnderBytes": -1,
                  "maxRelL2": "small",
                  "fallbackMethods": ["lowrank:energy=2", "rtn:bits", 7],
                  "extra": 1
                }
                """;
        assertThatThrownBy(() -> Policies.parse(json, "policy.json"))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.problems()).hasSize(14))
                .hasMessageStartingWith("invalid compression policy (policy.json): 14 problems")
                .hasMessageContaining("unknown field 'extra'")
                .hasMessageContaining("defaultMethod: codec 'rtn': parameter 'bits': 9 is out of range [2, 8]")
                .hasMessageContaining("defaultMethod: codec 'rtn': unknown parameter 'colour'")
                .hasMessageContaining("rules[0]: unknown method 'rtm' (known: ")
                .hasMessageContaining("rules[1]: missing or empty pattern")
                .hasMessageContaining("rules[1]: codec 'prune': parameter 'sparsity': 'lots' is not a number")
                .hasMessageContaining("rules[2]: missing or empty pattern")
                .hasMessageContaining("rules[2].params.bits must be a string, number or boolean")
                .hasMessageContaining("keepMethod: 'rtn' is not lossless")
                .hasMessageContaining("keepUnderBytes: -1 is negative")
                .hasMessageContaining("maxRelL2 must be a number")
                .hasMessageContaining("fallbackMethods[0]: codec 'lowrank': parameter 'energy': 2.0 is out of range")
                .hasMessageContaining("fallbackMethods[1]: 'bits' in 'rtn:bits' is not key=value")
                .hasMessageContaining("fallbackMethods[2] must be a string");
    }

    @Test
    void malformedJsonAndMissingFilesSayWhere() {
        assertThatThrownBy(() -> Policies.parse("{\"defaultMethod\": \"rtn\",\n  oops}", "p.json"))
                .isInstanceOf(PolicyException.class).hasMessageContaining("p.json").hasMessageContaining("line 2");
        assertThatThrownBy(() -> Policies.parse("[1, 2]", null)).isInstanceOf(PolicyException.class)
                .hasMessageContaining("JSON object");
        assertThatThrownBy(() -> Policies.parse("{}", null)).isInstanceOf(PolicyException.class)
                .hasMessageContaining("defaultMethod is missing");
        assertThatThrownBy(() -> Policies.read(tmp.resolve("absent.json"))).isInstanceOf(PolicyException.class)
                .hasMessageContaining("absent.json").hasMessageContaining("no such file");
    }

    @Test
    void commandLineFactoriesValidateToo() {
        assertThat(Policies.of("rtn", Policies.settings(List.of("bits=4", "group.size=64"))).getDefaultParams())
                .containsExactly(Map.entry("bits", "4"), Map.entry("group.size", "64"));
        assertThatThrownBy(() -> Policies.of("rtn", Map.of("bits", "1"))).isInstanceOf(PolicyException.class)
                .hasMessageContaining("bits");
        assertThatThrownBy(() -> Policies.of("zip", Map.of())).isInstanceOf(PolicyException.class)
                .hasMessageContaining("unknown method 'zip'").hasMessageContaining("rtn");
        assertThatThrownBy(() -> Policies.only("", "rtn", Map.of())).isInstanceOf(PolicyException.class)
                .hasMessageContaining("missing or empty pattern");
        assertThatThrownBy(() -> Policies.settings(List.of("bits"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'bits' is not key=value");
        assertThatThrownBy(() -> Policies.settings(List.of("bits=4", "bits=8"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("set twice");
        CompressionPolicy only = Policies.only("*query*", "rtn", Map.of("bits", "4"));
        assertThat(only.getDefaultMethod()).isEqualTo("lossless");
        assertThat(only.getRules()).singleElement().satisfies(r -> {
            assertThat(r.getPattern()).isEqualTo("*query*");
            assertThat(r.getMethod()).isEqualTo("rtn");
        });
        assertThat(Policies.fallback("rtn", Map.of("bits", "8"))).isEqualTo("rtn:bits=8");
        assertThat(MethodSpec.parse("rtn:bits=8, group.size=64")).isEqualTo(
                new MethodSpec("rtn", Map.of("bits", "8", "group.size", "64")));
    }
}
