package io.weightstream.serving;

import java.util.List;

/**
 * What the HTTP API asks of the decoder for rollback and roll-forward: activate a version kept in the local
 * repository (load, warm up, swap in), and list the kept versions. Implemented by the decoder service.
 */
public interface VersionActivator {
    /**
     * Loads {@code version} of {@code model} from the repository, warms it up and swaps it in.
     *
     * @return the version now serving
     * @throws java.util.NoSuchElementException if the model or version is not kept here
     * @throws IllegalStateException if it fails to load or warm up (the previous version keeps serving)
     */
    ServedModel.Info activate(String model, String version);

    /** The versions of {@code model} kept in the repository, oldest first. */
    List<ServedModel.Info> keptVersions(String model);
}
