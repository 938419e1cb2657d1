package io.weightstream.job;

import io.weightstream.policy.PolicyResolver;
import io.weightstream.schemas.CompressionPolicy;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.flink.api.common.functions.FilterFunction;

/**
 * Splits assembled tensors between the compress operator in the default slot-sharing group and the one in the
 * {@value CompressionJob#GPU_GROUP} group, by the first method the tensor's policy picks for it. A tensor whose policy
 * cannot be resolved goes the CPU way, where the compress operator reports the problem.
 *
 * <pre>{@code
 * assembled.filter(new GpuMethodFilter(Set.of("inr"), true)).process(...).slotSharingGroup("gpu");
 * }</pre>
 */
public class GpuMethodFilter implements FilterFunction<AssembledTensor> {
    private static final long serialVersionUID = 1L;
    private static final int RESOLVER_CACHE = 16;

    private final TreeSet<String> gpuMethods;
    private final boolean keepGpu;
    private transient Map<CompressionPolicy, PolicyResolver> resolvers;

    /**
     * @param gpuMethods the methods that need a GPU
     * @param keepGpu    true: keep the tensors of those methods; false: keep all others
     */
    public GpuMethodFilter(Set<String> gpuMethods, boolean keepGpu) {
        this.gpuMethods = new TreeSet<>(gpuMethods);
        this.keepGpu = keepGpu;
    }

    @Override
    public boolean filter(AssembledTensor t) {
        return needsGpu(t) == keepGpu;
    }

    boolean needsGpu(AssembledTensor t) {
        if (resolvers == null) {
            resolvers = new LinkedHashMap<>(RESOLVER_CACHE, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<CompressionPolicy, PolicyResolver> eldest) {
                    return size() > RESOLVER_CACHE;
                }
            };
        }
        try {
            PolicyResolver r = resolvers.get(t.policy);
            if (r == null) {
                r = new PolicyResolver(t.policy);
                resolvers.put(t.policy, r);
            }
            String method = r.resolve(t.entry.getName(), t.entry.getAlias(), t.toTensor().spec()).get(0).method();
            return gpuMethods.contains(method);
        } catch (RuntimeException invalid) {
            return false;
        }
    }
}
