package io.weightstream.ratecontrol;

import io.weightstream.codec.l2.DifferentiableCounter;
import io.weightstream.codec.l2.L2Point;
import io.weightstream.codec.l2.L2Profile;
import io.weightstream.codec.l2.L2Transform;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * One layer's operational rate-distortion curve: every candidate (transform, step, threshold or knee) of the grid
 * evaluated on the layer's profile, plus coding the layer exactly, reduced to the lower convex hull (the only
 * points a Lagrangian allocation can choose), ordered by rate. Rates are payload bytes (header included), times a
 * correction factor that verification sets when the real payloads differ from the prediction.
 */
final class LayerCurve {
    /** JOINT prune thresholds, in steps (0.5 = plain uniform rounding). */
    static final double[] JOINT_SHAPES = {0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0};
    /** LOG knees, in RMS. */
    static final double[] LOG_KNEES = {0.5, 1, 2, 4};
    /** EXP knees, in RMS (smaller knees overflow the level range on weights with outliers). */
    static final double[] EXP_KNEES = {2, 4, 8};
    /** Candidate steps span 2^MIN_OCTAVE .. 2^MAX_OCTAVE RMS. */
    static final int MIN_OCTAVE = -12;
    static final int MAX_OCTAVE = 3;
    /**
     * Above this many bits per weight only UNIFORM is pursued to finer steps: at high rates the transforms converge
     * (uniform steps are near optimal), and these points, with their wide alphabets, are the costly ones.
     */
    static final double SHAPED_MAX_BITS = 8;

    /** One hull point: an l2 operating point (or null: the keep method) with its rate and distortions. */
    record Option(L2Point point, double bytes, double weightedDistortion, double squaredError) {
    }

    final String name;
    final String alias;
    final long elements;
    final long originalBytes;
    final double sumSquares;
    final double weight;
    final List<Option> hull;
    /** Verification's correction of this layer's rates (measured / predicted payload bytes of its chosen point). */
    double correction = 1;

    private LayerCurve(String name, String alias, long elements, long originalBytes, double sumSquares, double weight,
                       List<Option> hull) {
        this.name = name;
        this.alias = alias;
        this.elements = elements;
        this.originalBytes = originalBytes;
        this.sumSquares = sumSquares;
        this.weight = weight;
        this.hull = hull;
    }

    double bytes(int i) {
        return hull.get(i).bytes() * correction;
    }

    double distortion(int i) {
        return hull.get(i).weightedDistortion();
    }

    /** {@code -dD/dR} of the segment from point i to i + 1 (positive, decreasing along the hull). */
    double slope(int i) {
        return (distortion(i) - distortion(i + 1)) / (bytes(i + 1) - bytes(i));
    }

    /**
     * Builds the curve of one layer.
     *
     * @param headerBytes   the payload header of this tensor (added to every l2 point)
     * @param losslessBytes the keep method's payload for this tensor (the zero-distortion point)
     * @param weight        the factor on the squared error (normalization times sensitivity)
     */
    static LayerCurve build(String name, String alias, long originalBytes, L2Profile profile, int headerBytes,
                            long losslessBytes, double weight, AllocationOptions options) {
        List<Option> all = new ArrayList<>();
        all.add(new Option(null, losslessBytes, 0, 0));
        int spo = options.stepsPerOctave();
        for (L2Transform t : options.transforms()) {
            double[] shapes = switch (t) {
                case JOINT -> options.transforms().contains(L2Transform.UNIFORM)
                        ? java.util.Arrays.copyOfRange(JOINT_SHAPES, 1, JOINT_SHAPES.length) : JOINT_SHAPES;
                case UNIFORM -> new double[] {0};
                case LOG -> LOG_KNEES;
                case EXP -> EXP_KNEES;
            };
            for (double shape : shapes) {
                boolean shaped = t != L2Transform.UNIFORM && !(t == L2Transform.JOINT && shape == 0.5);
                // from coarse to fine; finer than coding the layer exactly is never worth it
                for (int j = MAX_OCTAVE * spo; j >= MIN_OCTAVE * spo; j--) {
                    double step = round4(StrictMath.pow(2, (double) j / spo));
                    double param = switch (t) {
                        case JOINT -> round4(shape * step);
                        case UNIFORM -> 0;
                        case LOG, EXP -> shape;
                    };
                    L2Point p = profile.evaluate(t, step, param);
                    if (!p.feasible()) {
                        break;
                    }
                    double bytes = headerBytes + (options.estimator() == AllocationOptions.Estimator.COUNTER
                            ? counterBytes(profile, p, options.counterResolution()) : p.bodyBytes());
                    all.add(new Option(p, bytes, weight * p.squaredError(), p.squaredError()));
                    if (bytes > losslessBytes || (shaped && bytes * 8 > SHAPED_MAX_BITS * profile.count())) {
                        break;
                    }
                }
            }
        }
        return new LayerCurve(name, alias, profile.count(), originalBytes, profile.sumSquares(), weight, hull(all));
    }

    /** The paper's estimate of a point's body: the counter's bits, the fixed fields, about 1.5 bytes per table entry. */
    static double counterBytes(L2Profile profile, L2Point p, double resolution) {
        if (profile.count() == 0) {
            return p.bodyBytes();
        }
        DifferentiableCounter c = DifferentiableCounter.forPoint(profile, p.transform(), p.step(), p.param(), resolution);
        return 24 + (p.kmax() <= 127 ? 21 : 37) + 1.5 * c.distinctSymbols() + c.bits() / 8;
    }

    /** 4 significant digits, so that policies read well and the codec sees exactly the evaluated values. */
    static double round4(double v) {
        return new BigDecimal(v).round(new MathContext(4)).doubleValue();
    }

    /** The lower convex hull of (bytes, distortion), from the smallest rate to the least distortion. */
    static List<Option> hull(List<Option> points) {
        List<Option> sorted = new ArrayList<>(points);
        sorted.sort(Comparator.comparingDouble(Option::bytes).thenComparingDouble(Option::weightedDistortion));
        List<Option> h = new ArrayList<>();
        for (Option p : sorted) {
            if (!h.isEmpty() && p.weightedDistortion() >= h.get(h.size() - 1).weightedDistortion()) {
                continue; // costs more for no less distortion
            }
            while (h.size() >= 2) {
                Option a = h.get(h.size() - 2);
                Option b = h.get(h.size() - 1);
                // drop b if it lies on or above the segment a-p
                double cross = (b.bytes() - a.bytes()) * (p.weightedDistortion() - a.weightedDistortion())
                        - (b.weightedDistortion() - a.weightedDistortion()) * (p.bytes() - a.bytes());
                if (cross <= 0) {
                    h.remove(h.size() - 1);
                } else {
                    break;
                }
            }
            if (!h.isEmpty() && p.bytes() == h.get(h.size() - 1).bytes()) {
                h.remove(h.size() - 1);
            }
            h.add(p);
        }
        return List.copyOf(h);
    }
}
