package io.weightstream.bench.l2;

import io.weightstream.bench.mnist.MnistDigits;
import io.weightstream.checkpoint.Checkpoint;
import io.weightstream.ratecontrol.Allocation;
import io.weightstream.ratecontrol.RateAllocator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Research entry for L2 rate control (the CLI has {@code compress --method l2 --set ratio=R} and {@code calibrate}):
 * writes the policy of a whole-model allocation, the layer sensitivities of a calibration, or a whole R-D curve.
 *
 * <pre>
 *   CP="cli/target/weightstream-cli-0.1.0-SNAPSHOT.jar:$(cat cli/target/classpath.txt)"
 *   java -cp "$CP" io.weightstream.bench.l2.L2Tool allocate MODEL.onnx ratio=8 [sensitivity=sens.json] [key=value...] -o policy.json
 *   java -cp "$CP" io.weightstream.bench.l2.L2Tool calibrate MODEL.onnx|MODEL.safetensors [--texts 64] [--noise 0.05] -o sens.json
 *   java -cp "$CP" io.weightstream.bench.l2.L2Tool curve MODEL --ratios 4,8,16 [--rtn bits=8;bits=4,group.size=64] [key=value...] -o curve.txt
 *   ./weightstream compress MODEL.onnx --policy policy.json -o model.wsz
 * </pre>
 *
 * Text models are calibrated on real paragraphs 64 and up of {@code /usr/share/common-licenses} (the evaluation
 * uses the first 64); MNIST checkpoints on the 8,000 training digits (the evaluation uses the held-back ones).
 */
public final class L2Tool {
    private L2Tool() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            usage();
            System.exit(2);
        }
        String command = args[0];
        Path model = Path.of(args[1]);
        Path out = null;
        int texts = 64;
        double noise = 0.05;
        String ratios = "4,6,8,10,12,16";
        String rtn = "";
        Map<String, String> settings = new LinkedHashMap<>();
        List<String> rest = new ArrayList<>(List.of(args).subList(2, args.length));
        for (int i = 0; i < rest.size(); i++) {
            String a = rest.get(i);
            switch (a) {
                case "-o" -> out = Path.of(rest.get(++i));
                case "--texts" -> texts = Integer.parseInt(rest.get(++i));
                case "--noise" -> noise = Double.parseDouble(rest.get(++i));
                case "--ratios" -> ratios = rest.get(++i);
                case "--rtn" -> rtn = rest.get(++i);
                default -> {
                    int eq = a.indexOf('=');
                    if (eq <= 0) {
                        usage();
                        System.exit(2);
                    }
                    settings.put(a.substring(0, eq), a.substring(eq + 1));
                }
            }
        }
        if (out == null) {
            usage();
            System.exit(2);
        }
        switch (command) {
            case "allocate" -> {
                try (Checkpoint ckpt = Checkpoint.open(model)) {
                    Allocation a = RateAllocator.allocate(ckpt, settings);
                    System.out.print(a.table());
                    Files.writeString(out, a.policyJson());
                }
            }
            case "calibrate" -> {
                List<L2Calibration.LayerSensitivity> s = model.toString().endsWith(".onnx")
                        ? L2Calibration.textModel(model, L2Calibration.calibrationTexts(64, texts), noise, 1, System.out)
                        : L2Calibration.mnist(model, MnistDigits.load().train(), noise, 1, System.out);
                L2Calibration.writeJson(L2Calibration.weights(s), out);
            }
            case "curve" -> {
                Path work = Files.createTempDirectory("weightstream-l2-curve");
                StringBuilder lines = new StringBuilder();
                for (String spec : rtn.isEmpty() ? new String[0] : rtn.split(";")) {
                    Map<String, String> params = new LinkedHashMap<>();
                    for (String kv : spec.split(",")) {
                        params.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
                    }
                    L2Curve.Point p = L2Curve.codec(model, "rtn", params, work);
                    System.out.println(p.line());
                    lines.append(p.line()).append('\n');
                }
                for (String r : ratios.split(",")) {
                    Map<String, String> s = new LinkedHashMap<>(settings);
                    s.put("ratio", r.trim());
                    L2Curve.Point p = L2Curve.l2(model, s, work);
                    System.out.println(p.line());
                    lines.append(p.line()).append('\n');
                }
                Files.writeString(out, lines);
                Files.deleteIfExists(work);
            }
            default -> {
                usage();
                System.exit(2);
            }
        }
    }

    private static void usage() {
        System.err.println("usage: L2Tool allocate MODEL ratio=R|model.bits=B [key=value...] -o policy.json\n"
                + "       L2Tool calibrate MODEL [--texts N] [--noise F] -o sensitivity.json\n"
                + "       L2Tool curve MODEL [--ratios 4,8,16] [--rtn 'bits=8;bits=4,group.size=64'] [key=value...] -o curve.txt");
    }
}
