package io.weightstream.serving;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Real English text for probing text models: the paragraphs of the license texts every Debian-based machine has
 * in {@code /usr/share/common-licenses/}, or the texts of a file the user gives.
 *
 * <p>License paragraphs are split on blank lines, whitespace-normalized (one space between words), paragraphs
 * shorter than {@value #MIN_PARAGRAPH_CHARS} characters (headings, "END OF TERMS AND CONDITIONS") are skipped and
 * duplicates dropped. Files are read in name order, symbolic links to files already read are skipped, and the
 * paragraphs are taken round-robin across the files so that a small {@code max} still mixes several licenses.
 * The order is the same on every run.
 *
 * <pre>{@code
 * List<String> probe = RealTexts.paragraphs(64);                          // license paragraphs
 * List<String> mine = RealTexts.fromFile(Path.of("queries.txt"), 1000);   // one text per line, or paragraphs
 * }</pre>
 */
public final class RealTexts {
    /** Where the license texts live on Debian and Ubuntu. */
    public static final Path COMMON_LICENSES = Path.of("/usr/share/common-licenses");

    /** Paragraphs shorter than this are headings or boilerplate, not prose. */
    public static final int MIN_PARAGRAPH_CHARS = 40;

    // a texts file larger than this is a mistake (a model, an archive), not a list of sentences
    static final long MAX_TEXTS_FILE_BYTES = 256L << 20;

    private RealTexts() {
    }

    /** Up to {@code max} paragraphs of the files in {@link #COMMON_LICENSES}. */
    public static List<String> paragraphs(int max) {
        return paragraphs(COMMON_LICENSES, max);
    }

    /**
     * Up to {@code max} paragraphs of the regular files directly in {@code directory}.
     *
     * @throws IllegalArgumentException when {@code max < 1}, or the directory is missing or yields no paragraph
     * @throws UncheckedIOException when a file cannot be read
     */
    public static List<String> paragraphs(Path directory, int max) {
        checkMax(max);
        if (!Files.isDirectory(directory)) {
            throw new IllegalArgumentException("no text directory " + directory
                    + " (install the base-files package, or give a texts file)");
        }
        List<List<String>> perFile = new ArrayList<>();
        Set<Path> seen = new LinkedHashSet<>();
        try (Stream<Path> files = Files.list(directory)) {
            for (Path file : files.sorted().toList()) {
                if (!Files.isRegularFile(file) || !seen.add(file.toRealPath())) {
                    continue;
                }
                List<String> paragraphs = new ArrayList<>();
                for (String p : splitParagraphs(read(file))) {
                    if (p.length() >= MIN_PARAGRAPH_CHARS) {
                        paragraphs.add(p);
                    }
                }
                perFile.add(paragraphs);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read texts in " + directory + ": " + e.getMessage(), e);
        }
        Set<String> out = new LinkedHashSet<>();
        for (int i = 0; out.size() < max; i++) {
            boolean any = false;
            for (List<String> file : perFile) {
                if (i < file.size()) {
                    any = true;
                    out.add(file.get(i));
                    if (out.size() == max) {
                        break;
                    }
                }
            }
            if (!any) {
                break;
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no paragraph of at least " + MIN_PARAGRAPH_CHARS
                    + " characters in " + directory);
        }
        return List.copyOf(out);
    }

    /**
     * Up to {@code max} texts of a UTF-8 file, in file order: when the file has blank lines, each blank-line
     * separated paragraph is one text (its lines joined); otherwise each non-empty line is one text. Whitespace is
     * normalized; no minimum length applies (the user chose these texts).
     *
     * @throws IllegalArgumentException when {@code max < 1}, the file is missing, too large or holds no text
     * @throws UncheckedIOException when the file cannot be read
     */
    public static List<String> fromFile(Path file, int max) {
        checkMax(max);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no such texts file: " + file);
        }
        String content;
        try {
            long size = Files.size(file);
            if (size > MAX_TEXTS_FILE_BYTES) {
                throw new IllegalArgumentException("texts file " + file + " has " + size + " bytes; the limit is "
                        + MAX_TEXTS_FILE_BYTES);
            }
            content = read(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read texts file " + file + ": " + e.getMessage(), e);
        }
        List<String> texts = new ArrayList<>();
        boolean paragraphMode = hasBlankLineBetweenText(content);
        List<String> pieces = paragraphMode ? splitParagraphs(content) : content.lines().map(RealTexts::normalize).toList();
        for (String t : pieces) {
            if (!t.isEmpty()) {
                texts.add(t);
                if (texts.size() == max) {
                    break;
                }
            }
        }
        if (texts.isEmpty()) {
            throw new IllegalArgumentException("texts file " + file + " holds no text");
        }
        return List.copyOf(texts);
    }

    /** Splits on lines that are empty or whitespace only (form feeds included) and normalizes each paragraph. */
    static List<String> splitParagraphs(String content) {
        List<String> paragraphs = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : (Iterable<String>) content.lines()::iterator) {
            if (line.isBlank()) {
                flush(current, paragraphs);
            } else {
                current.append(line).append(' ');
            }
        }
        flush(current, paragraphs);
        return paragraphs;
    }

    /** Collapses every run of whitespace (spaces, tabs, newlines, form feeds) to one space and trims. */
    static String normalize(String text) {
        return text.strip().replaceAll("\\s+", " ");
    }

    private static void flush(StringBuilder current, List<String> paragraphs) {
        String p = normalize(current.toString());
        if (!p.isEmpty()) {
            paragraphs.add(p);
        }
        current.setLength(0);
    }

    private static boolean hasBlankLineBetweenText(String content) {
        List<String> lines = content.strip().lines().toList();
        return lines.stream().anyMatch(String::isBlank);
    }

    private static String read(Path file) throws IOException {
        // malformed bytes (a Latin-1 license) become U+FFFD rather than failing the whole run
        return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    }

    private static void checkMax(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("max must be at least 1, got " + max);
        }
    }
}
