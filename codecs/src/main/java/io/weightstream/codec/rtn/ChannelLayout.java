package io.weightstream.codec.rtn;

/**
 * How a tensor is cut into channels and groups (see {@link RtnFormat}). A channel is a row of the 2-D view
 * when {@code lastAxis} is false, a column otherwise; {@code groupLength} consecutive elements of a channel share
 * a scale.
 *
 * @param lastAxis          channels are the columns of {@code [N/dlast, dlast]}
 * @param rows              rows of the 2-D view
 * @param cols              columns of the 2-D view
 * @param groupLength       elements per group (the last group of a channel may be shorter); at least 1
 * @param groupsPerChannel  {@code ceil(channel length / groupLength)}, 0 for empty channels
 */
record ChannelLayout(boolean lastAxis, int rows, int cols, int groupLength, int groupsPerChannel) {

    /**
     * The layout of a tensor of {@code shape} ({@code numel} elements) with groups of {@code groupSize}
     * (0 = whole channel). Rank 0 and 1 tensors are one row whatever {@code lastAxis} says.
     */
    static ChannelLayout of(long[] shape, long numel, boolean lastAxis, long groupSize) {
        if (shape.length <= 1) {
            lastAxis = false;
        }
        int rows;
        int cols;
        if (numel == 0) {
            // no groups at all; dimensions of empty tensors may exceed an int
            rows = 0;
            cols = 0;
        } else if (shape.length <= 1) {
            rows = 1;
            cols = (int) numel;
        } else if (lastAxis) {
            cols = (int) shape[shape.length - 1];
            rows = (int) (numel / cols);
        } else {
            rows = (int) shape[0];
            cols = (int) (numel / rows);
        }
        int length = lastAxis ? rows : cols;
        int g = groupSize <= 0 || groupSize >= length ? Math.max(1, length) : (int) groupSize;
        int perChannel = length == 0 ? 0 : (length + g - 1) / g;
        return new ChannelLayout(lastAxis, rows, cols, g, perChannel);
    }

    int channels() {
        return lastAxis ? cols : rows;
    }

    /** Number of groups G (scales stored). */
    long groups() {
        return (long) channels() * groupsPerChannel;
    }

    /** Elements in group {@code index}. */
    int groupElements(long index) {
        int length = lastAxis ? rows : cols;
        int k = (int) (lastAxis ? index / cols : index % groupsPerChannel);
        return Math.min(groupLength, length - k * groupLength);
    }
}
