package io.weightstream.stack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StackHomeTest {
    @TempDir
    Path dir;

    @Test
    void aStackWithoutItsJarsTellsHowToBuildIt() {
        assertThatThrownBy(() -> StackHome.of(dir)).isInstanceOf(StackException.class)
                .hasMessageContaining("kafka_2.13-4.1.0.jar")
                .hasMessageContaining(StackHome.APICURIO_JAR)
                .hasMessageContaining("mvn -pl deploy process-resources");
    }

    @Test
    void theStagedStackOfTheBuildIsFound() {
        // surefire passes -Dweightstream.stack.home=<root>/deploy/target/stack
        StackHome home = StackHome.locate();
        assertThat(home.kafkaLibs().resolve("kafka-clients-4.1.0.jar")).exists();
        assertThat(home.apicurioJar()).exists();
    }

    @Test
    void theCheckoutIsFoundFromAnyDirectoryInsideIt() throws IOException {
        Files.createDirectories(dir.resolve("deploy/src/main"));
        Files.writeString(dir.resolve("pom.xml"), "<project/>");
        Files.writeString(dir.resolve("deploy/pom.xml"), "<project/>");

        assertThat(StackHome.repositoryRoot(dir.resolve("deploy/src/main"))).hasValue(dir.toAbsolutePath().normalize());
        assertThat(StackHome.repositoryRoot(dir.getRoot())).isEmpty();
    }
}
